import { join } from 'node:path';
import ts from 'typescript';

const PROTOCOL_SOURCE = join(
  __dirname,
  '..',
  '..',
  'packages',
  'protocol',
  'src',
);

/** The wire protocol's source: the server and the client both compile it in. */
export const WIRE_FILE = join(PROTOCOL_SOURCE, 'wire.ts');

/** The channels' additions to the wire protocol. */
export const CHANNELS_FILE = join(PROTOCOL_SOURCE, 'channels.ts');

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

/** Reads the interfaces and constants of the wire protocol's files with the TypeScript compiler. */
export function readWireDefinitions(
  files: readonly string[] = [WIRE_FILE, CHANNELS_FILE],
): WireDefinitions {
  const interfaces = new Map<string, readonly WireField[]>();
  const constants = new Map<string, readonly string[]>();
  for (const file of files) {
    const read = readWireFile(file);
    read.interfaces.forEach((fields, name) => interfaces.set(name, fields));
    read.constants.forEach((values, name) => constants.set(name, values));
  }
  return { interfaces, constants };
}

function readWireFile(file: string): WireDefinitions {
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
