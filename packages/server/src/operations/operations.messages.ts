/** Log and error texts of the operations integrations, in one place so that they stay consistent. */
export const OperationsMessages = {
  missingPeer: (peer: string, user: string) =>
    `${user} needs the optional peer dependency "${peer}", which is not installed. Install it next to @streamgate/server (npm install ${peer}), or leave ${user} out.`,
  invalidPath: (path: unknown) =>
    `StreamgateMetricsModule: "path" must be a route such as 'metrics' or false (got ${JSON.stringify(path)}).`,
  invalidPartitionLabels: (given: unknown, max: number) =>
    `StreamgateMetricsModule: "partitionLabels" must be an integer from 0 to ${max} (got ${JSON.stringify(given)}).`,
};
