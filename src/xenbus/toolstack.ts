import type { Permission, XenstoreClient } from '../xenstore/index.ts';
import { type DeviceId, type DevicePaths, devicePaths } from './paths.ts';
import { XenbusState } from './state.ts';

/** Extra keys for either end, written with the rest (driver parameters, e.g. a vchan's name). */
export interface DeviceKeys {
  /** Keys for the frontend directory, owned by the frontend domain; they override the defaults. */
  readonly frontend?: Readonly<Record<string, string>>;
  /** Keys for the backend directory, owned by the backend domain; they override the defaults. */
  readonly backend?: Readonly<Record<string, string>>;
}

/**
 * The toolstack's part of adding a device (what `xl` does through libxl): in one transaction,
 * the frontend directory owned by the frontend domain and readable by the backend, the backend
 * directory owned by the backend and readable by the frontend, each pointing at the other
 * (`backend`/`backend-id`, `frontend`/`frontend-id`), both in state Initialising. Needs a
 * privileged (dom0) connection.
 */
export async function createDevice(
  client: XenstoreClient,
  id: DeviceId,
  keys: DeviceKeys = {},
): Promise<DevicePaths> {
  const paths = devicePaths(id);
  const { frontendDomid: fe, backendDomid: be } = id;
  const frontendPerms: Permission[] = [
    { access: 'n', domid: fe },
    { access: 'r', domid: be },
  ];
  const backendPerms: Permission[] = [
    { access: 'n', domid: be },
    { access: 'r', domid: fe },
  ];
  const frontend = {
    backend: paths.backend,
    'backend-id': String(be),
    state: String(XenbusState.Initialising),
    ...keys.frontend,
  };
  const backend = {
    frontend: paths.frontend,
    'frontend-id': String(fe),
    online: '1',
    state: String(XenbusState.Initialising),
    ...keys.backend,
  };
  await client.transaction(async (tx) => {
    for (const [dir, values, perms] of [
      [paths.frontend, frontend, frontendPerms],
      [paths.backend, backend, backendPerms],
    ] as const) {
      await tx.mkdir(dir);
      await tx.setPermissions(dir, perms);
      // New nodes take their parent's permissions, so the keys get the directory's.
      for (const [key, value] of Object.entries(values)) await tx.write(`${dir}/${key}`, value);
    }
  });
  return paths;
}

/** The toolstack's part of removing a device: both directories go (`xl device-detach`). */
export async function removeDevice(client: XenstoreClient, id: DeviceId): Promise<void> {
  const paths = devicePaths(id);
  await client.transaction(async (tx) => {
    for (const dir of [paths.frontend, paths.backend]) {
      await tx.rm(dir).catch(() => {});
    }
  });
}
