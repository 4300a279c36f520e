const EMPTY: ReadonlyMap<unknown, unknown> = new Map();

/**
 * A map made on first use and dropped when emptied, for tables most of their owners never fill
 * (a connection's transactions and watches): an empty one is one small object, not a hash table.
 * Offers the part of `Map` the server uses.
 */
export class OnDemandMap<K, V> implements Iterable<[K, V]> {
  #map: Map<K, V> | undefined;

  get size(): number {
    return this.#map?.size ?? 0;
  }

  get(key: K): V | undefined {
    return this.#map?.get(key);
  }

  has(key: K): boolean {
    return this.#map?.has(key) ?? false;
  }

  set(key: K, value: V): this {
    this.#map ??= new Map();
    this.#map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    const map = this.#map;
    if (!map?.delete(key)) return false;
    if (map.size === 0) this.#map = undefined;
    return true;
  }

  clear(): void {
    this.#map = undefined;
  }

  values(): IterableIterator<V> {
    return (this.#map ?? (EMPTY as ReadonlyMap<K, V>)).values();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return (this.#map ?? (EMPTY as ReadonlyMap<K, V>)).entries();
  }
}
