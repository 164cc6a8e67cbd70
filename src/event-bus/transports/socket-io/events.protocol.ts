// One definition of the wire names for both peers: the client's, which has no server dependencies.
export {
  EVENTS_NAMESPACE,
  SERVER_SHUTDOWN,
  ServerEvent as WireEvent,
  UNAUTHORIZED,
} from '../../../client/wire.protocol';
