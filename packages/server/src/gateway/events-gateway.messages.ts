/** Error texts of `EventsGatewayModule`, in one place so that they stay consistent. */
export const EventsGatewayMessages = {
  missingPort: (name: 'authenticator' | 'scopeResolver') =>
    `EventsGatewayModule: "${name}" is required. Pass the class that ${name === 'authenticator' ? 'turns a token into a principal (implements Authenticator)' : 'grants scopes to a principal (implements ScopeResolver)'}, e.g. EventsGatewayModule.forRoot({ authenticator: JwtAuthenticator, scopeResolver: ClaimsScopeResolver }).`,
  invalidNamespace: (namespace: unknown) =>
    `EventsGatewayModule: "namespace" must start with "/" and use only letters, digits, "_", "-" and "/" (got ${JSON.stringify(namespace)}).`,
  invalidNumber: (name: string, value: unknown) =>
    `EventsGatewayModule: "${name}" must be a whole number of at least 1 (got ${JSON.stringify(value)}).`,
  linked: (what: string) =>
    `${what} of EventsGatewayModule: add EventsGatewayModule.forRoot({ authenticator: YourAuthenticator, scopeResolver: YourScopeResolver }) to the imports of your AppModule; isGlobal is not needed`,
  serverLimitBelowOurs: (namespace: string, server: number, ours: number) =>
    `The Socket.IO server's maxHttpBufferSize is ${server} bytes (from the gateway Nest connected first), below the ${ours} bytes ${namespace} allows: messages larger than ${server} bytes close the connection on every namespace. Raise maxHttpBufferSize in that gateway's options, or lower EventsGatewayModule's.`,
  corsShared: (namespace: string) =>
    `The Socket.IO server has CORS settings of another gateway as well. Socket.IO applies CORS to the whole server, so streamgate answers for the origins the cors option of ${namespace} allows and leaves every other origin to those settings.`,
  hostOptionsApplied: (gateway: string, keys: string[]) =>
    `The Socket.IO server was created for streamgate's gateway, so Nest left out the options of ${gateway}; applied them to the server: ${keys.join(', ')}.`,
  hostOptionsSkipped: (gateway: string, keys: string[]) =>
    `The Socket.IO server was created for streamgate's gateway, so Nest left out the options of ${gateway}, and these cannot be applied to a running server: ${keys.join(', ')}. Import the module of ${gateway} before EventsGatewayModule so that the server is built with them.`,
};
