// The bare connection of the differential scripts, shared with the tests.
export { type Exchange, RawConnection } from '../../src/conformance/fuzz/raw-connection.ts';
