/**
 * `pytorch_model.bin` (torch.save zip format, torch >= 1.6) read without torch and without
 * executing the pickle: convert/zip.ts for the archive, convert/pickle.ts with an allow-list
 * of the globals a tensor state dict uses. Mirrors torch/serialization.py `_load`:
 * persistent ids ('storage', storage_type, key, location, numel) name `<archive>/data/<key>`,
 * and torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) makes a view.
 */
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import { ShardedSource } from './checkpoint.js';
import { decodeToFloat32, dtypeByteSize, type SafetensorsDType } from './dtypes.js';
import type { HostTensor } from './safetensors.js';
import { PyDict, PyGlobal, PyHostObject, PyTuple, describe, unpickle, type PyValue, type UnpickleHooks } from './pickle.js';
import { ZipArchive } from './zip.js';
import { openRegularFile } from './model-file.js';

/** torch legacy storage classes (what `_pickle_storage_type` names) -> element type. */
const STORAGE_DTYPES: Record<string, SafetensorsDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

export interface TorchStorage {
  key: string;
  dtype: SafetensorsDType;
  /** Elements (torch records typed storages by element count). */
  numel: number;
  entry: string;
}

export interface TorchTensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  stride: number[];
  /** In elements of the storage. */
  offset: number;
  storage: TorchStorage;
}

const TENSOR = 'tensor';
const STORAGE = 'storage';

function isNat(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function natTuple(v: PyValue, what: string, where: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isNat)) throw new PolyglotError(`${where}: ${what} must be a tuple of non-negative integers, found ${describe(v)}`);
  return v.items as number[];
}

export class TorchBinFile {
  readonly path: string;
  private readonly zip: ZipArchive;
  private readonly infos: Map<string, TorchTensorInfo>;

  private constructor(path: string, zip: ZipArchive, infos: Map<string, TorchTensorInfo>) {
    this.path = path;
    this.zip = zip;
    this.infos = infos;
  }

  static open(file: string): TorchBinFile {
    const zip = openTorchZip(file);
    const pkls = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      throw new PolyglotError(`${file}: expected one <archive>/data.pkl entry as torch.save writes, found ${pkls.length}`);
    }
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    const byteorder = zip.entry(`${prefix}byteorder`);
    if (byteorder) {
      const order = zip.read(`${prefix}byteorder`).toString('latin1');
      if (order !== 'little') throw new PolyglotError(`${file}: tensors are stored ${order}-endian, only little-endian checkpoints are supported`);
    }
    const storages = new Map<string, TorchStorage>();
    const hooks: UnpickleHooks = {
      global(module, name) {
        const q = `${module}.${name}`;
        if (q === 'collections.OrderedDict' || q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_parameter' || q === 'torch._utils._rebuild_parameter_with_state') {
          return new PyGlobal(module, name);
        }
        if (module === 'torch' && name in STORAGE_DTYPES) return new PyGlobal(module, name);
        if (module === 'torch' && /^\w+Storage$/.test(name)) {
          throw new PolyglotError(`${file}: tensors stored as torch.${name} are not supported (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`);
        }
        throw new PolyglotError(`${file}: pickle references forbidden global ${q}; only tensor state dicts are accepted`);
      },
      call(fn, args) {
        if (!(fn instanceof PyGlobal)) throw new PolyglotError(`${file}: pickle calls ${describe(fn)}, which is not callable`);
        switch (fn.qualified) {
          case 'collections.OrderedDict':
            if (args.length !== 0) throw new PolyglotError(`${file}: pickle builds an OrderedDict with arguments, expected OrderedDict()`);
            return new PyDict();
          case 'torch._utils._rebuild_tensor_v2':
            return rebuildTensor(args, file);
          case 'torch._utils._rebuild_parameter':
          case 'torch._utils._rebuild_parameter_with_state':
            // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for us.
            if (!(args[0] instanceof PyHostObject) || args[0].tag !== TENSOR) throw new PolyglotError(`${file}: _rebuild_parameter expects a tensor, found ${describe(args[0])}`);
            return args[0];
          default:
            throw new PolyglotError(`${file}: pickle calls ${fn.qualified}, which only names a storage type`);
        }
      },
      build(obj, state) {
        // OrderedDict state (e.g. `_metadata`) is kept as attributes; nothing else may be built.
        if (obj instanceof PyDict) {
          obj.attrs = state;
          return obj;
        }
        if (obj instanceof PyHostObject && obj.tag === TENSOR) return obj;
        throw new PolyglotError(`${file}: pickle BUILD on ${describe(obj)}, only dicts and tensors are accepted`);
      },
      persistentLoad(pid) {
        if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
          throw new PolyglotError(`${file}: pickle persistent id ${describe(pid)} is not ('storage', type, key, location, numel)`);
        }
        const [, type, key, , numel] = pid.items;
        if (!(type instanceof PyGlobal) || !(type.name in STORAGE_DTYPES)) throw new PolyglotError(`${file}: storage type ${describe(type)} is not a torch storage class`);
        if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) throw new PolyglotError(`${file}: storage key ${describe(key)} is not a plain name`);
        if (!isNat(numel)) throw new PolyglotError(`${file}: storage ${key} has element count ${describe(numel)}`);
        const dtype = STORAGE_DTYPES[type.name];
        const known = storages.get(key);
        if (known) {
          if (known.dtype !== dtype || known.numel !== numel) throw new PolyglotError(`${file}: storage ${key} is described twice with different types or sizes`);
          return new PyHostObject(STORAGE, known);
        }
        const entry = `${prefix}data/${key}`;
        const en = zip.entry(entry);
        if (!en) throw new PolyglotError(`${file}: storage ${key} has no zip entry ${entry}`);
        if (en.size !== numel * dtypeByteSize(dtype)) {
          throw new PolyglotError(`${file}: storage ${key} (${numel} x ${dtype}) needs ${numel * dtypeByteSize(dtype)} bytes, entry ${entry} has ${en.size}`);
        }
        const s: TorchStorage = { key, dtype, numel, entry };
        storages.set(key, s);
        return new PyHostObject(STORAGE, s);
      },
    };
    const root = unpickle(zip.read(pkls[0]), hooks, file);
    if (!(root instanceof PyDict)) throw new PolyglotError(`${file}: expected a state dict (name -> tensor), the pickle holds ${describe(root)}`);
    const infos = new Map<string, TorchTensorInfo>();
    for (let i = 0; i < root.size; i++) {
      const k = root.keys[i];
      const v = root.values[i];
      if (typeof k !== 'string') throw new PolyglotError(`${file}: state dict key ${describe(k)} is not a string`);
      if (!(v instanceof PyHostObject) || v.tag !== TENSOR) throw new PolyglotError(`${file}: state dict entry "${k}" is ${describe(v)}, not a tensor`);
      infos.set(k, { ...(v.value as Omit<TorchTensorInfo, 'name'>), name: k });
    }
    checkDeflatedStorages(file, zip, infos);
    return new TorchBinFile(file, zip, infos);
  }

  names(): string[] {
    return [...this.infos.keys()];
  }
  has(name: string): boolean {
    return this.infos.has(name);
  }
  info(name: string): TorchTensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new PolyglotError(`${this.path}: no tensor named "${name}"`);
    return i;
  }

  /** Tensors that are the same view of the same storage as an earlier one (tied weights): name -> first name. */
  aliases(): Map<string, string> {
    const first = new Map<string, string>();
    const out = new Map<string, string>();
    for (const t of this.infos.values()) {
      const id = `${t.storage.key}|${t.offset}|${t.shape.join(',')}|${t.stride.join(',')}`;
      const f = first.get(id);
      if (f) out.set(t.name, f);
      else first.set(id, t.name);
    }
    return out;
  }

  /** Reads one tensor (a possibly strided view), floats upcast to float32. */
  read(name: string): HostTensor {
    const t = this.info(name);
    const numel = t.shape.reduce((a, d) => a * d, 1);
    const es = dtypeByteSize(t.dtype);
    if (numel === 0) return { dtype: t.dtype, shape: t.shape.slice(), data: decodeToFloat32(t.dtype, new Uint8Array(0)) };
    const last = lastIndex(t);
    // Read and decode only the span the view touches, then gather when it is not row-major.
    const bytes = this.zip.readRange(t.storage.entry, t.offset * es, (last + 1) * es);
    const span = decodeToFloat32(t.dtype, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    if (isRowMajor(t.shape, t.stride)) return { dtype: t.dtype, shape: t.shape.slice(), data: span };
    return { dtype: t.dtype, shape: t.shape.slice(), data: gather(span, t.shape, t.stride) };
  }
}

/** Opens the zip, explaining the legacy (pre-1.6, plain pickle stream) format instead of a zip error. */
function openTorchZip(file: string): ZipArchive {
  let head = Buffer.alloc(4);
  const { fd } = openRegularFile(file);
  try {
    head = head.subarray(0, fs.readSync(fd, head, 0, 4, 0));
  } finally {
    fs.closeSync(fd);
  }
  if (head.length === 4 && head.readUInt32LE(0) === 0x04034b50) return ZipArchive.open(file);
  if (head.length > 0 && head[0] === 0x80) {
    throw new PolyglotError(`${file}: legacy torch serialization (before torch 1.6) is not supported; re-save it with a recent torch or convert it to safetensors`);
  }
  throw new PolyglotError(`${file}: not a torch checkpoint: expected a zip archive (torch.save format)`);
}

/**
 * A deflated storage is inflated whole (zlib cannot stop early in one synchronous call), so it is
 * accepted only when its views use all of it: torch.save writes storages uncompressed, and a small
 * deflated entry that declares a huge storage for a small view would otherwise cost its full size.
 */
function checkDeflatedStorages(file: string, zip: ZipArchive, infos: Map<string, TorchTensorInfo>): void {
  const used = new Map<TorchStorage, number>();
  for (const t of infos.values()) {
    if (t.shape.some((d) => d === 0)) continue;
    used.set(t.storage, Math.max(used.get(t.storage) ?? 0, (lastIndex(t) + 1) * dtypeByteSize(t.dtype)));
  }
  for (const [st, bytes] of used) {
    const en = zip.entry(st.entry)!;
    if (en.method !== 0 && en.size > bytes) {
      throw new PolyglotError(`${file}: storage ${st.key} is deflated to ${en.size} bytes but its views use only ${bytes}; torch.save stores storages uncompressed (re-save the checkpoint)`);
    }
  }
}

/** Index (in storage elements) of the view's last element; the view is non-empty. */
function lastIndex(t: { offset: number; shape: number[]; stride: number[] }): number {
  return t.offset + t.shape.reduce((a, d, i) => a + (d - 1) * t.stride[i], 0);
}

function isRowMajor(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

function gather<A extends Float32Array | Int32Array | BigInt64Array>(src: A, shape: number[], stride: number[]): A {
  const n = shape.reduce((a, d) => a * d, 1);
  const out = new (src.constructor as new (n: number) => A)(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < n; i++) {
    out[i] = src[at];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      at += stride[d];
      if (idx[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * A state dict's tensors never have elements that share memory within one view: a zero stride
 * (broadcast) or overlapping strides would make a few stored bytes expand into a huge tensor.
 * Dimensions of size 1 do not move, so their stride is free.
 */
function checkNoOverlap(shape: number[], stride: number[], where: string): void {
  const dims = shape.map((d, i) => ({ d, s: stride[i] })).filter((x) => x.d > 1).sort((a, b) => a.s - b.s);
  let extent = 1; // elements spanned by the dimensions with smaller strides
  for (const { d, s } of dims) {
    if (s < extent) {
      throw new PolyglotError(`${where}: size ${JSON.stringify(shape)} with stride ${JSON.stringify(stride)} makes elements overlap (a zero or overlapping stride; a saved state dict has none)`);
    }
    extent = s * (d - 1) + extent;
  }
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: PyValue[], file: string): PyHostObject {
  const where = `${file}: _rebuild_tensor_v2`;
  // torch's function takes 6 or 7 arguments; torch.load(weights_only=True) fails on any other count.
  if (args.length !== 6 && args.length !== 7) {
    throw new PolyglotError(`${where} expects (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]), found ${args.length} arguments`);
  }
  const [st, offset, size, stride, requiresGrad] = args;
  if (typeof requiresGrad !== 'boolean') throw new PolyglotError(`${where}: requires_grad is ${describe(requiresGrad)}, expected True or False`);
  if (!(st instanceof PyHostObject) || st.tag !== STORAGE) throw new PolyglotError(`${where}: first argument is ${describe(st)}, not a storage`);
  const storage = st.value as TorchStorage;
  if (!isNat(offset)) throw new PolyglotError(`${where}: storage offset is ${describe(offset)}`);
  const shape = natTuple(size, 'size', where);
  const strides = natTuple(stride, 'stride', where);
  if (shape.length !== strides.length) throw new PolyglotError(`${where}: size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in rank`);
  const numel = shape.reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(numel)) throw new PolyglotError(`${where}: size ${JSON.stringify(shape)} is too large`);
  checkNoOverlap(shape, strides, where);
  if (numel > 0) {
    const last = lastIndex({ offset, shape, stride: strides });
    if (last >= storage.numel) {
      throw new PolyglotError(
        `${where}: view (offset ${offset}, size ${JSON.stringify(shape)}, stride ${JSON.stringify(strides)}) reaches element ${last} of storage ${storage.key}, which has ${storage.numel}`,
      );
    }
  }
  const info: Omit<TorchTensorInfo, 'name'> = { dtype: storage.dtype, shape, stride: strides, offset, storage };
  return new PyHostObject(TENSOR, info);
}

/** A TensorSource over one .bin or the shards of pytorch_model.bin.index.json. */
export class TorchBinSource extends ShardedSource<TorchBinFile> {
  private readonly aliasMap = new Map<string, string>();

  constructor(files: TorchBinFile[], weightMap?: Record<string, string>, indexPath?: string) {
    super(files, weightMap, indexPath);
    for (const f of files) for (const [a, b] of f.aliases()) this.aliasMap.set(a, b);
  }

  /** The earlier name this tensor shares its storage view with (tied weights), if any. */
  aliasOf(name: string): string | undefined {
    return this.aliasMap.get(name);
  }
}
