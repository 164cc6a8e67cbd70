import { join } from 'node:path';
import ts from 'typescript';

/** The wire protocol's source: the server and the client both compile it in. */
export const WIRE_FILE = join(
  __dirname,
  '..',
  '..',
  'packages',
  'protocol',
  'src',
  'wire.ts',
);

export interface WireField {
  readonly name: string;
  readonly optional: boolean;
  readonly nullable: boolean;
  /** The string literals the field's type names, e.g. the known reasons. */
  readonly literals: readonly string[];
}

export interface WireDefinitions {
  /** Exported interfaces: the payloads. */
  readonly interfaces: ReadonlyMap<string, readonly WireField[]>;
  /** Exported constants: every string each one holds (an event name, a list of reasons, …). */
  readonly constants: ReadonlyMap<string, readonly string[]>;
}

/** Reads the interfaces and constants of the wire protocol with the TypeScript compiler. */
export function readWireDefinitions(file = WIRE_FILE): WireDefinitions {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`Cannot read ${file}.`);
  const interfaces = new Map<string, WireField[]>();
  const constants = new Map<string, string[]>();
  const exported = (node: ts.Node) =>
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some(
      (m) => m.kind === ts.SyntaxKind.ExportKeyword,
    );

  for (const statement of source.statements) {
    if (!exported(statement)) continue;
    if (ts.isInterfaceDeclaration(statement)) {
      const type = checker.getTypeAtLocation(statement.name);
      interfaces.set(
        statement.name.text,
        checker.getPropertiesOfType(type).map((property) => {
          const declaration = property.valueDeclaration ?? statement;
          const propertyType = checker.getTypeOfSymbolAtLocation(
            property,
            declaration,
          );
          const parts = propertyType.isUnion()
            ? propertyType.types
            : [propertyType];
          return {
            name: property.name,
            optional: (property.flags & ts.SymbolFlags.Optional) !== 0,
            nullable: parts.some((part) => part.flags & ts.TypeFlags.Null),
            literals: parts
              .filter((part) => part.isStringLiteral())
              .map((part) => (part as ts.StringLiteralType).value),
          };
        }),
      );
    }
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (!ts.isIdentifier(declaration.name) || !declaration.initializer)
          continue;
        const strings: string[] = [];
        const visit = (node: ts.Node) => {
          if (ts.isStringLiteralLike(node)) strings.push(node.text);
          else if (!ts.isPropertyName(node) || ts.isComputedPropertyName(node))
            ts.forEachChild(node, visit);
        };
        visit(declaration.initializer);
        // Property keys (`resyncRequired:`) are code names; only values go on the wire.
        constants.set(declaration.name.text, strings);
      }
    }
  }
  return { interfaces, constants };
}
