import type * as Swagger from '@nestjs/swagger';

/*
 * The OpenAPI decorators of @nestjs/swagger, applied only when the host has
 * it installed. It is an optional peer: a host that publishes no API
 * description must be able to use the module without it, so every decorator
 * here turns into a no-op when the package cannot be loaded.
 */

type SwaggerApi = typeof Swagger;
type DecoratorName =
  | 'ApiBearerAuth'
  | 'ApiBody'
  | 'ApiExtraModels'
  | 'ApiHeader'
  | 'ApiOperation'
  | 'ApiParam'
  | 'ApiProduces'
  | 'ApiProperty'
  | 'ApiPropertyOptional'
  | 'ApiQuery'
  | 'ApiResponse'
  | 'ApiSchema'
  | 'ApiTags';

const SWAGGER_PACKAGE = '@nestjs/swagger';

let loaded: SwaggerApi | null | undefined;

/** @nestjs/swagger, or `null` when the host did not install it; required once. */
export function loadSwagger(): SwaggerApi | null {
  if (loaded === undefined) {
    try {
      // A plain require keeps the package optional: no import, no hard dependency.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(SWAGGER_PACKAGE) as SwaggerApi;
    } catch (error) {
      // Only its absence is expected; a broken installation should say so.
      if (!isMissing(error)) throw error;
      loaded = null;
    }
  }
  return loaded;
}

function isMissing(error: unknown): boolean {
  const { code, message } = (error ?? {}) as {
    code?: unknown;
    message?: unknown;
  };
  return (
    code === 'MODULE_NOT_FOUND' &&
    typeof message === 'string' &&
    message.includes(`'${SWAGGER_PACKAGE}'`)
  );
}

const noop = (): void => undefined;

function optional<K extends DecoratorName>(name: K): SwaggerApi[K] {
  const decorator = (...args: unknown[]) => {
    const swagger = loadSwagger();
    if (!swagger) return noop;
    return (swagger[name] as (...a: unknown[]) => unknown)(...args);
  };
  return decorator as unknown as SwaggerApi[K];
}

export const ApiBearerAuth = optional('ApiBearerAuth');
export const ApiBody = optional('ApiBody');
export const ApiExtraModels = optional('ApiExtraModels');
export const ApiHeader = optional('ApiHeader');
export const ApiOperation = optional('ApiOperation');
export const ApiParam = optional('ApiParam');
export const ApiProduces = optional('ApiProduces');
export const ApiProperty = optional('ApiProperty');
export const ApiPropertyOptional = optional('ApiPropertyOptional');
export const ApiQuery = optional('ApiQuery');
export const ApiResponse = optional('ApiResponse');
export const ApiSchema = optional('ApiSchema');
export const ApiTags = optional('ApiTags');

/** The JSON Schema reference to a documented class, as `getSchemaPath` writes it. */
export function schemaRef(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}
