/**
 * A restricted pickle reader. It interprets the opcodes `torch.save` emits (protocol 2-5)
 * as pure data operations and executes nothing: every GLOBAL goes through `hooks.global`,
 * which returns a reference only for names the caller allows (and throws otherwise), and
 * REDUCE / NEWOBJ / BUILD on such references are handed to the caller's own implementations.
 * Lengths read from the stream are checked against the bytes that remain before anything
 * is allocated. Opcode semantics follow CPython's Lib/pickle.py (`_Unpickler`).
 */
import { PolyglotError } from '../core/errors.js';

export type PyValue = null | boolean | number | bigint | string | PyBytes | PyTuple | PyList | PyDict | PyGlobal | PyHostObject;

export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyList {
  readonly items: PyValue[] = [];
}
/** A dict (or OrderedDict): insertion-ordered; keys are compared by type and value (str / int / bool / None). */
export class PyDict {
  readonly keys: PyValue[] = [];
  readonly values: PyValue[] = [];
  /** Attributes set by BUILD (e.g. a state dict's `_metadata`). */
  attrs: PyValue = null;
  private readonly index = new Map<string, number>();
  static keyId(k: PyValue): string | undefined {
    if (typeof k === 'string') return `s:${k}`;
    if (typeof k === 'number' || typeof k === 'bigint') return `n:${k}`;
    if (typeof k === 'boolean') return `n:${k ? 1 : 0}`; // True == 1 in Python
    if (k === null) return 'None';
    return undefined;
  }
  set(k: PyValue, v: PyValue, where: string): void {
    const id = PyDict.keyId(k);
    if (id === undefined) throw new PolyglotError(`${where}: pickle uses an unsupported dict key type (${describe(k)})`);
    const at = this.index.get(id);
    if (at !== undefined) {
      this.values[at] = v;
    } else {
      this.index.set(id, this.keys.length);
      this.keys.push(k);
      this.values.push(v);
    }
  }
  get(k: string): PyValue | undefined {
    const at = this.index.get(`s:${k}`);
    return at === undefined ? undefined : this.values[at];
  }
  get size(): number {
    return this.keys.length;
  }
}
/** A reference to an allowed global (module.name); only the caller's hooks give it meaning. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
/** A value made by the caller's hooks (e.g. a tensor reference). */
export class PyHostObject {
  constructor(
    readonly tag: string,
    readonly value: unknown,
  ) {}
}

export interface UnpickleHooks {
  /** GLOBAL / STACK_GLOBAL: return a reference for allowed names, throw a PolyglotError for anything else. */
  global(module: string, name: string): PyValue;
  /** REDUCE and NEWOBJ: `fn(*args)` for an allowed reference. */
  call(fn: PyValue, args: PyValue[]): PyValue;
  /** BUILD: `obj.__setstate__(state)`; returns the (possibly new) object. */
  build(obj: PyValue, state: PyValue): PyValue;
  /** BINPERSID / PERSID. */
  persistentLoad(pid: PyValue): PyValue;
}

/** Short description of a value for error messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof PyList) return `list of ${v.items.length}`;
  if (v instanceof PyDict) return `dict of ${v.size}`;
  if (v instanceof PyBytes) return `bytes of ${v.bytes.length}`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  return v.tag;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

const OP_NAMES: Record<number, string> = { 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x92: 'NEWOBJ_EX', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER' };

/** Interprets `data` (one pickle) and returns the object STOP yields. `source` names the file in errors. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks, source: string): PyValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let opAt = 0;

  const fail = (msg: string): PolyglotError => new PolyglotError(`${source}: pickle ${msg} (opcode at byte ${opAt})`);
  const need = (n: number): void => {
    if (!(n >= 0) || pos + n > data.length) throw fail(`is truncated: needs ${n} more bytes, ${data.length - pos} remain`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) throw fail(`declares a length of ${v} bytes, more than the ${data.length}-byte pickle`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const text = (n: number): string => {
    const b = bytes(n);
    try {
      return utf8.decode(b);
    } catch {
      throw fail('has a string that is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw fail('is truncated inside a text line');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw fail('pops from an empty stack');
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw fail('reads an empty stack');
    return v;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) throw fail('pops a MARK that was never pushed');
    const items = stack.splice(m) as PyValue[];
    return items;
  };
  const memoGet = (k: number): PyValue => {
    const v = memo.get(k);
    if (v === undefined) throw fail(`reads memo slot ${k} that was never written`);
    return v;
  };
  const push = (v: PyValue): void => {
    stack.push(v);
  };
  const signedLE = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (target: PyValue, kv: PyValue[]): void => {
    if (!(target instanceof PyDict)) throw fail(`sets items on ${describe(target)}, only dicts are accepted`);
    if (kv.length % 2) throw fail('has an odd number of SETITEMS values');
    for (let i = 0; i < kv.length; i += 2) target.set(kv[i], kv[i + 1], source);
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyList)) throw fail(`appends to ${describe(target)}, only lists are accepted`);
    for (const it of items) target.items.push(it); // no spread: a huge APPENDS must not overflow the call stack
  };

  while (true) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        const v = u8(); // PROTO
        if (v > 5) throw fail(`protocol ${v} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: only an I/O hint; the payload follows inline.
        u64();
        break;
      case 0x2e: {
        // STOP
        const v = pop();
        return v;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length && stack[stack.length - 1] === MARK) stack.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(signedLE(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) throw fail('has a negative LONG4 length');
        // BigInt assembly is quadratic; no state dict needs integers wider than this.
        if (n > 1024) throw fail(`has a ${n}-byte integer (LONG4), more than a tensor state dict ever holds`);
        push(signedLE(bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text): also encodes booleans as I01 / I00 in protocol 0/1
        const s = line();
        if (s === '01') push(true);
        else if (s === '00') push(false);
        else if (/^-?\d+$/.test(s)) push(Number(s));
        else throw fail(`has a malformed INT ${JSON.stringify(s)}`);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(text(u64()));
        break;
      case 0x54: {
        // BINSTRING (python 2 str, read as latin-1 like torch.load's default)
        const n = i32();
        if (n < 0) throw fail('has a negative BINSTRING length');
        push(latin1.decode(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        push(new PyBytes(bytes(u32()).slice()));
        break;
      case 0x43: // SHORT_BINBYTES
        push(new PyBytes(bytes(u8()).slice()));
        break;
      case 0x8e: // BINBYTES8
        push(new PyBytes(bytes(u64()).slice()));
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        push(new PyList());
        break;
      case 0x6c: {
        // LIST
        const l = new PyList();
        for (const it of popMark()) l.items.push(it);
        push(l);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        push(hooks.global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL needs two strings');
        push(hooks.global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) throw fail(`REDUCE needs an argument tuple, found ${describe(args)}`);
        push(hooks.call(fn, args.items));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) throw fail(`NEWOBJ needs an argument tuple, found ${describe(args)}`);
        push(hooks.call(cls, args.items));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = pop();
        push(hooks.build(obj, state));
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        push(hooks.persistentLoad(line()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: {
        // PUT (text)
        const s = line();
        if (!/^\d+$/.test(s)) throw fail(`has a malformed PUT ${JSON.stringify(s)}`);
        memo.set(Number(s), top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x67: {
        // GET (text)
        const s = line();
        if (!/^\d+$/.test(s)) throw fail(`has a malformed GET ${JSON.stringify(s)}`);
        push(memoGet(Number(s)));
        break;
      }
      default: {
        const name = OP_NAMES[op];
        throw fail(`uses opcode ${name ?? `0x${op.toString(16).padStart(2, '0')}`}, which a tensor state dict never needs`);
      }
    }
  }
}
