import { OK_PAYLOAD } from '../payload.ts';
import { permissionsPayload } from '../replies.ts';
import type { Request } from '../requests.ts';
import { EMPTY_VALUE } from './node.ts';
import { Perm } from './permissions.ts';
import {
  existing,
  makeNode,
  removeNode,
  type Scope,
  setNodePermissions,
  writeNode,
} from './tree-ops.ts';

/** A request that names a node. */
export type TreeRequest = Extract<
  Request,
  {
    op:
      | 'READ'
      | 'DIRECTORY'
      | 'DIRECTORY_PART'
      | 'GET_PERMS'
      | 'WRITE'
      | 'MKDIR'
      | 'RM'
      | 'SET_PERMS';
  }
>;

/** Serves one node request on `scope` (the path already resolved and checked). */
export function applyTreeRequest(scope: Scope, path: string, request: TreeRequest): Uint8Array {
  switch (request.op) {
    case 'READ':
      return existing(scope, path, Perm.READ).value;
    case 'DIRECTORY':
      return existing(scope, path, Perm.READ).children.payload();
    case 'DIRECTORY_PART': {
      const node = existing(scope, path, Perm.READ);
      return node.children.slice(String(node.generation), request.offset);
    }
    case 'GET_PERMS':
      return permissionsPayload(existing(scope, path, Perm.READ).perms);
    case 'WRITE':
      writeNode(
        scope,
        path,
        request.value.length === 0 ? EMPTY_VALUE : new Uint8Array(request.value),
      );
      return OK_PAYLOAD;
    case 'MKDIR':
      makeNode(scope, path);
      return OK_PAYLOAD;
    case 'RM':
      removeNode(scope, path);
      return OK_PAYLOAD;
    case 'SET_PERMS':
      setNodePermissions(scope, path, request.perms);
      return OK_PAYLOAD;
  }
}
