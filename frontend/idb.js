// A tiny promise wrapper over IndexedDB, in the shape of Jake Archibald's `idb`
// (https://github.com/jakearchibald/idb): `openDB(name, version, { upgrade })` resolves to a
// database with `get`, `put`, `delete`, `getAll` (and `count`, `clear`) over one object store
// each, every call its own transaction. Writes resolve when their transaction has committed
// (durability "strict": on disk, not just handed to the OS), so a payment the app has said is
// "saved on this device" survives a crash or a closed browser. `update` is the one addition: a
// read-modify-write in a single transaction, so two tabs changing the same record cannot undo
// each other (a record another tab deleted is not brought back).

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("transaction aborted", "AbortError"));
  });
}

// "strict": committed to disk before the promise resolves. Browsers without the durability
// option ignore it (an unknown dictionary member).
function writeTransaction(db, storeName, durability = "strict") {
  return db.transaction(storeName, "readwrite", { durability });
}

class Database {
  constructor(db) {
    this.db = db;
    // Another tab opens a newer version (an app update): let it, this tab reopens on next use.
    db.onversionchange = () => {
      db.close();
      this.closed = true;
    };
    this.closed = false;
  }

  async read(storeName, call) {
    const tx = this.db.transaction(storeName, "readonly");
    return promised(call(tx.objectStore(storeName)));
  }

  async write(storeName, call, durability = "strict") {
    const tx = writeTransaction(this.db, storeName, durability);
    const [result] = await Promise.all([promised(call(tx.objectStore(storeName))), committed(tx)]);
    return result;
  }

  get(storeName, key) {
    return this.read(storeName, (store) => store.get(key));
  }

  getAll(storeName) {
    return this.read(storeName, (store) => store.getAll());
  }

  count(storeName) {
    return this.read(storeName, (store) => store.count());
  }

  put(storeName, value) {
    return this.write(storeName, (store) => store.put(value));
  }

  // A lost delete only means one more (idempotent) replay, so it need not wait for the disk.
  delete(storeName, key) {
    return this.write(storeName, (store) => store.delete(key), "default");
  }

  clear(storeName) {
    return this.write(storeName, (store) => store.clear());
  }

  // `mutate(current)` gets the stored record (undefined when there is none) and returns the
  // record to store, or undefined to leave it as it is; resolves to what was stored (or undefined).
  async update(storeName, key, mutate) {
    const tx = writeTransaction(this.db, storeName);
    const store = tx.objectStore(storeName);
    let written;
    const request = store.get(key);
    request.onsuccess = () => {
      const next = mutate(request.result);
      if (next !== undefined) {
        store.put(next);
        written = next;
      }
    };
    await committed(tx);
    return written;
  }

  close() {
    this.db.close();
    this.closed = true;
  }
}

// `upgrade(db, oldVersion, newVersion, transaction)` creates or changes the object stores.
export function openDB(name, version, { upgrade, blocked } = {}) {
  return new Promise((resolve, reject) => {
    let request;
    try {
      request = indexedDB.open(name, version);
    } catch (error) {
      reject(error);
      return;
    }
    request.onupgradeneeded = (event) => {
      if (upgrade) upgrade(request.result, event.oldVersion, event.newVersion, request.transaction);
    };
    request.onblocked = () => {
      if (blocked) blocked();
    };
    request.onsuccess = () => resolve(new Database(request.result));
    request.onerror = () => reject(request.error);
  });
}
