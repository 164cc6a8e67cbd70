type Decorators = typeof import('./openapi.decorators');

const OPERATION = 'swagger/apiOperation';

function moduleNotFound(name: string): Error {
  return Object.assign(new Error(`Cannot find module '${name}'`), {
    code: 'MODULE_NOT_FOUND',
  });
}

/** The helper loaded afresh, with `@nestjs/swagger` replaced by `factory` when given. */
function loadHelper(factory?: () => unknown): Decorators {
  let helper: Decorators | undefined;
  jest.isolateModules(() => {
    if (factory) jest.doMock('@nestjs/swagger', factory);
    helper = jest.requireActual<Decorators>('./openapi.decorators');
  });
  return helper!;
}

function decorateWith(helper: Decorators) {
  class Target {
    @helper.ApiOperation({ summary: 'Publish' })
    @helper.ApiResponse({ status: 201, description: 'Published.' })
    publish(): void {}
  }
  return Target;
}

afterEach(() => {
  jest.dontMock('@nestjs/swagger');
});

describe('OpenAPI decorators', () => {
  describe('when @nestjs/swagger is installed', () => {
    it('applies its decorators', () => {
      const Target = decorateWith(loadHelper());
      expect(Reflect.getMetadata(OPERATION, Target.prototype.publish)).toEqual(
        expect.objectContaining({ summary: 'Publish' }),
      );
    });
  });

  describe('when @nestjs/swagger is not installed', () => {
    it('leaves the routes as they are and throws nothing', () => {
      const helper = loadHelper(() => {
        throw moduleNotFound('@nestjs/swagger');
      });
      expect(helper.loadSwagger()).toBeNull();
      const Target = decorateWith(helper);
      expect(
        Reflect.getMetadataKeys(Target.prototype.publish).filter((key) =>
          String(key).startsWith('swagger/'),
        ),
      ).toEqual([]);
    });
  });

  describe('when @nestjs/swagger is installed but broken', () => {
    it('reports the failure instead of hiding it', () => {
      const helper = loadHelper(() => {
        throw moduleNotFound('swagger-ui-dist');
      });
      expect(() => helper.loadSwagger()).toThrow(/swagger-ui-dist/);
    });
  });
});
