/** Error texts of `EventsGatewayModule`, in one place so that they stay consistent. */
export const EventsGatewayMessages = {
  missingPort: (name: 'authenticator' | 'scopeResolver') =>
    `EventsGatewayModule: "${name}" is required. Pass the class that ${name === 'authenticator' ? 'turns a token into a principal (implements Authenticator)' : 'grants scopes to a principal (implements ScopeResolver)'}, e.g. EventsGatewayModule.forRoot({ authenticator: JwtAuthenticator, scopeResolver: ClaimsScopeResolver }).`,
  invalidNamespace: (namespace: unknown) =>
    `EventsGatewayModule: "namespace" must start with "/" and use only letters, digits, "_", "-" and "/" (got ${JSON.stringify(namespace)}).`,
  invalidNumber: (name: string, value: unknown) =>
    `EventsGatewayModule: "${name}" must be a whole number of at least 1 (got ${JSON.stringify(value)}).`,
  missingModule: (owner: string) =>
    `${owner} needs EventsGatewayModule for its access checks, and no EventsGatewayModule is imported in this app. Add EventsGatewayModule.forRoot({ authenticator: YourAuthenticator, scopeResolver: YourScopeResolver }) to the imports of the module that imports ${owner}, e.g. your AppModule.`,
};
