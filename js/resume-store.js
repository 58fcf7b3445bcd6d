// Where the upload engine records acknowledged parts (src/upload/resume_store.rs
// documents the backends and the record). In JavaScript because it is
// nothing but calls into storage APIs (a custom store, localStorage,
// IndexedDB): compiled from Rust, their promise plumbing and closures took
// several times the bytes.
//
// openResumeStore(custom) resolves with { name, get(key), set(key, value),
// remove(key) }: `name` is "custom", "localStorage", "indexedDB" or
// "memory"; the methods return promises that never reject (a failed
// storage call reads as nothing and writes nothing: losing the record only
// means sending parts again); `get` resolves with a string or undefined.
// Keys are stored under the prefix "import-uploader:upload:".

const PREFIX = "import-uploader:upload:";
const DB_NAME = "import-uploader";
const DB_STORE = "uploads";

// The in-memory records: they live as long as the loaded module.
const memory = new Map();
// The open IndexedDB database, once opened.
let database;

const text = (v) => (typeof v === "string" ? v : undefined);

// obj[method](...args), awaited when it returns a promise; undefined on
// any failure.
async function call(obj, method, args) {
  try {
    const f = obj[method];
    if (typeof f !== "function") return undefined;
    const v = f.apply(obj, args);
    return v instanceof Promise ? await v : v;
  } catch {
    return undefined;
  }
}

// The result of an IndexedDB request.
function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = resolve;
    req.onerror = reject;
  }).then(() => req.result);
}

async function openDatabase() {
  if (database) return database;
  try {
    const factory = globalThis.indexedDB;
    if (factory === null || typeof factory !== "object") return undefined;
    const req = factory.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      try {
        req.result.createObjectStore(DB_STORE);
      } catch {
        // The open request reports the failure.
      }
    };
    const db = await request(req);
    if (db !== null && typeof db === "object") database = db;
  } catch {
    // No IndexedDB here.
  }
  return database;
}

async function databaseOp(db, mode, method, args) {
  try {
    const store = db.transaction(DB_STORE, mode).objectStore(DB_STORE);
    return await request(store[method](...args));
  } catch {
    return undefined;
  }
}

// A usable localStorage: reading it throws in some contexts (opaque
// origins, disabled storage), and Node 22+ may expose a broken one, so it
// is probed.
function localStore() {
  try {
    const s = globalThis.localStorage;
    if (typeof Storage !== "function" || !(s instanceof Storage)) return undefined;
    const probe = PREFIX + "probe";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch {
    return undefined;
  }
}

// A store whose three operations are synchronous calls that may throw.
function syncStore(name, get, set, remove) {
  const guard = (f) => async (...args) => {
    try {
      return f(...args);
    } catch {
      return undefined;
    }
  };
  return { name, get: guard(get), set: guard(set), remove: guard(remove) };
}

export async function openResumeStore(custom) {
  if (custom !== undefined && custom !== null) {
    return {
      name: "custom",
      get: async (k) => text(await call(custom, "getItem", [PREFIX + k])),
      set: async (k, v) => void (await call(custom, "setItem", [PREFIX + k, v])),
      remove: async (k) => void (await call(custom, "removeItem", [PREFIX + k])),
    };
  }
  const local = localStore();
  if (local) {
    return syncStore(
      "localStorage",
      (k) => text(local.getItem(PREFIX + k)),
      (k, v) => void local.setItem(PREFIX + k, v),
      (k) => void local.removeItem(PREFIX + k),
    );
  }
  const db = await openDatabase();
  if (db) {
    return {
      name: "indexedDB",
      get: async (k) => text(await databaseOp(db, "readonly", "get", [PREFIX + k])),
      set: async (k, v) => void (await databaseOp(db, "readwrite", "put", [v, PREFIX + k])),
      remove: async (k) => void (await databaseOp(db, "readwrite", "delete", [PREFIX + k])),
    };
  }
  return syncStore(
    "memory",
    (k) => memory.get(PREFIX + k),
    (k, v) => void memory.set(PREFIX + k, v),
    (k) => void memory.delete(PREFIX + k),
  );
}
