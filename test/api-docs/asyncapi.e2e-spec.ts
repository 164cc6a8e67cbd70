import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import {
  readWireDefinitions,
  WireDefinitions,
  WireField,
} from './wire-definitions';

const ASYNCAPI_FILE = join(__dirname, '..', '..', 'docs', 'asyncapi.yaml');

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  pattern?: string;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
};
type Message = { name?: string; payload?: Schema };
type Operation = {
  action: 'send' | 'receive';
  channel: { address: string };
  messages: Message[];
  reply?: { messages?: Message[] };
};
type AsyncApi = {
  asyncapi: string;
  servers: Record<string, { pathname?: string }>;
  channels: Record<
    string,
    { address: string; messages: Record<string, Message> }
  >;
  operations: Record<string, Operation>;
  components: { schemas: Record<string, Schema> };
};

/** Every `enum` value anywhere inside a schema. */
function enumValues(schema: Schema | undefined, found = new Set<unknown>()) {
  if (!schema || typeof schema !== 'object') return found;
  for (const value of schema.enum ?? []) found.add(value);
  for (const part of [
    ...(schema.oneOf ?? []),
    ...(schema.anyOf ?? []),
    ...(schema.allOf ?? []),
    ...Object.values(schema.properties ?? {}),
    ...(schema.items ? [schema.items] : []),
  ])
    enumValues(part, found);
  return found;
}

/**
 * The `enum` values a field's own value may take: its alternatives, not the
 * fields of the objects or array items it holds (those are checked as their
 * own schemas).
 */
function ownEnumValues(schema: Schema | undefined, found = new Set<unknown>()) {
  if (!schema || typeof schema !== 'object') return found;
  for (const value of schema.enum ?? []) found.add(value);
  for (const part of [
    ...(schema.oneOf ?? []),
    ...(schema.anyOf ?? []),
    ...(schema.allOf ?? []),
  ])
    ownEnumValues(part, found);
  return found;
}

function allowsNull(schema: Schema): boolean {
  const types = [schema.type].flat();
  return (
    types.includes('null') ||
    [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].some(allowsNull)
  );
}

describe('The AsyncAPI description of /events (docs/asyncapi.yaml)', () => {
  let doc: AsyncApi;
  let wire: WireDefinitions;
  let wireStrings: Set<unknown>;

  beforeAll(async () => {
    const { document, diagnostics } = await new Parser().parse(
      readFileSync(ASYNCAPI_FILE, 'utf8'),
    );
    const problems = diagnostics.filter(
      (d) =>
        d.severity === DiagnosticSeverity.Error ||
        d.severity === DiagnosticSeverity.Warning,
    );
    if (!document || problems.length > 0) {
      throw new Error(
        `docs/asyncapi.yaml does not parse cleanly:\n${problems
          .map((d) => `- ${d.path.join('.')}: ${d.message}`)
          .join('\n')}`,
      );
    }
    doc = document.json() as unknown as AsyncApi;
    wire = readWireDefinitions();
    const messages = Object.values(doc.channels).flatMap((channel) =>
      Object.values(channel.messages),
    );
    // The strings a wire constant may stand for: names, addresses, paths and enum values.
    wireStrings = new Set<unknown>([
      ...messages.map((message) => message.name),
      ...Object.values(doc.channels).map((channel) => channel.address),
      ...Object.values(doc.servers).map((server) => server.pathname),
      ...Object.values(doc.components.schemas).flatMap((schema) => [
        ...enumValues(schema),
      ]),
      ...messages.flatMap((message) => [...enumValues(message.payload)]),
    ]);
  });

  it('is AsyncAPI 3', () => {
    expect(doc.asyncapi).toMatch(/^3\./);
  });

  it('reads the wire definitions it is checked against', () => {
    expect([...wire.interfaces.keys()]).toEqual(
      expect.arrayContaining([
        'Envelope',
        'ReadyInfo',
        'ResyncInfo',
        'EvictedInfo',
        'ShutdownInfo',
        'HandshakeAuth',
      ]),
    );
    expect(wire.constants.get('ServerEvent')).toContain('resync_required');
    expect(wire.constants.get('READY_REASONS')).toContain('no_cursor');
  });

  it('names every string of every wire constant (events, namespace, path, reasons)', () => {
    const missing = [...wire.constants].flatMap(([constant, values]) =>
      values
        .filter((value) => !wireStrings.has(value))
        .map((value) => `${constant}: "${value}"`),
    );
    expect(missing).toEqual([]);
  });

  it('has a server-to-client message for every ServerEvent', () => {
    const sent = Object.values(doc.operations)
      .filter((operation) => operation.action === 'send')
      .flatMap((operation) => operation.messages.map((m) => m.name));
    expect(sent.sort()).toEqual(
      [
        ...wire.constants.get('ServerEvent')!,
        ...wire.constants.get('ChannelServerEvent')!,
      ].sort(),
    );
  });

  it('describes every wire payload as a schema with exactly its fields', () => {
    const problems: string[] = [];
    for (const [name, fields] of wire.interfaces) {
      const schema = doc.components.schemas[name];
      if (!schema) {
        problems.push(`${name}: no schema`);
        continue;
      }
      const properties = schema.properties ?? {};
      const documented = Object.keys(properties).sort();
      const declared = fields.map((field) => field.name).sort();
      if (JSON.stringify(documented) !== JSON.stringify(declared))
        problems.push(
          `${name}: fields ${declared.join(', ')} but documented ${documented.join(', ')}`,
        );
      const required = [...(schema.required ?? [])].sort();
      const mandatory = fields.filter((f) => !f.optional).map((f) => f.name);
      if (JSON.stringify(required) !== JSON.stringify(mandatory.sort()))
        problems.push(
          `${name}: required ${mandatory.join(', ')} but documented ${required.join(', ')}`,
        );
      for (const field of fields) problems.push(...checkField(name, field));
    }
    expect(problems).toEqual([]);

    function checkField(owner: string, field: WireField): string[] {
      const schema = doc.components.schemas[owner].properties?.[field.name];
      if (!schema) return [];
      const out: string[] = [];
      const values = ownEnumValues(schema);
      for (const literal of field.literals) {
        if (!values.has(literal))
          out.push(`${owner}.${field.name}: "${literal}" is not listed`);
      }
      for (const value of values) {
        if (!field.literals.includes(value as string))
          out.push(`${owner}.${field.name}: "${value}" is not on the wire`);
      }
      if (field.nullable !== allowsNull(schema))
        out.push(
          `${owner}.${field.name}: ${field.nullable ? 'may' : 'may not'} be null`,
        );
      return out;
    }
  });

  it('sends events as an array of Envelope, acknowledged with the last id', () => {
    const operation = Object.values(doc.operations).find((o) =>
      o.messages.some((m) => m.name === 'events'),
    )!;
    const events = operation.messages.find((m) => m.name === 'events')!;
    expect(events.payload?.type).toBe('array');
    expect(Object.keys(events.payload!.items!.properties!).sort()).toEqual(
      ['data', 'id', 'ts', 'type'].sort(),
    );
    const ack = operation.reply?.messages ?? [];
    expect(ack).toHaveLength(1);
    expect(ack[0].payload).toEqual(doc.components.schemas.EventId);
  });

  it('receives every channel request with an acknowledgement', () => {
    const received = Object.values(doc.operations).filter(
      (operation) => operation.action === 'receive',
    );
    const missing = wire.constants
      .get('ChannelClientEvent')!
      .filter(
        (name) =>
          !received.some(
            (operation) =>
              operation.messages.some((m) => m.name === name) &&
              (operation.reply?.messages ?? []).length === 1,
          ),
      );
    expect(missing).toEqual([]);
  });

  it('receives the handshake auth from clients on /events', () => {
    const handshake = Object.values(doc.operations).find(
      (o) =>
        o.action === 'receive' &&
        o.messages.some((m) =>
          Object.keys(m.payload?.properties ?? {}).includes('token'),
        ),
    );
    expect(handshake?.channel.address).toBe(
      wire.constants.get('EVENTS_NAMESPACE')![0],
    );
    expect(handshake!.messages[0].payload).toEqual(
      doc.components.schemas.HandshakeAuth,
    );
  });
});
