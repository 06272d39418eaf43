export { freePort } from '../../src/lifecycle/free-port';
