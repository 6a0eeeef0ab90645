import { keccakP } from '@noble/hashes/sha3.js';

/**
 * Merlin transcripts (merlin.cool) over STROBE-128/1600, as Cwtch's tapir uses for binding
 * every step of a connection (auth, proof of work, token issuance) into one running hash.
 *
 * Written by hand: npm has no maintained stand-alone Merlin/STROBE package (the one audited
 * copy, inside @scure/sr25519, is exported only for that library's tests). Only the STROBE
 * operations Merlin needs are implemented: meta-AD, AD and PRF. The sr25519 copy and the
 * published Merlin test vector are used to cross-check this one in the test suite.
 */

const STROBE_R = 166; // rate for STROBE-128 over Keccak-f[1600]: 200 − 2·(128/8) − 2
const FLAG_I = 1;
const FLAG_A = 2;
const FLAG_C = 4;
const FLAG_M = 16;
const encoder = new TextEncoder();

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('transcript: big-endian hosts are not supported');
}

class Strobe128 {
  private readonly state32 = new Uint32Array(50);
  private readonly state = new Uint8Array(this.state32.buffer);
  private pos = 0;
  private posBegin = 0;
  private curFlags = 0;

  public constructor(protocolLabel: Uint8Array) {
    this.state.set([1, STROBE_R + 2, 1, 0, 1, 96]);
    this.state.set(encoder.encode('STROBEv1.0.2'), 6);
    keccakP(this.state32);
    this.metaAd(protocolLabel, false);
  }

  private runF(): void {
    const st = this.state;
    st[this.pos] = st[this.pos]! ^ this.posBegin;
    st[this.pos + 1] = st[this.pos + 1]! ^ 0x04;
    st[STROBE_R + 1] = st[STROBE_R + 1]! ^ 0x80;
    keccakP(this.state32);
    this.pos = 0;
    this.posBegin = 0;
  }

  private absorb(data: Uint8Array): void {
    for (const byte of data) {
      this.state[this.pos] = this.state[this.pos]! ^ byte;
      this.pos += 1;
      if (this.pos === STROBE_R) this.runF();
    }
  }

  private squeeze(out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) {
      out[i] = this.state[this.pos]!;
      this.state[this.pos] = 0;
      this.pos += 1;
      if (this.pos === STROBE_R) this.runF();
    }
  }

  private beginOp(flags: number, more: boolean): void {
    if (more) {
      if (flags !== this.curFlags) throw new Error('strobe: continued operation with different flags');
      return;
    }
    const oldBegin = this.posBegin;
    this.posBegin = this.pos + 1;
    this.curFlags = flags;
    this.absorb(Uint8Array.of(oldBegin, flags));
    const forceF = (flags & FLAG_C) !== 0;
    if (forceF && this.pos !== 0) this.runF();
  }

  public metaAd(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAG_M | FLAG_A, more);
    this.absorb(data);
  }

  public ad(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAG_A, more);
    this.absorb(data);
  }

  public prf(length: number, more: boolean): Uint8Array {
    this.beginOp(FLAG_I | FLAG_A | FLAG_C, more);
    const out = new Uint8Array(length);
    this.squeeze(out);
    return out;
  }
}

function le32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError('merlin: length out of range');
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

function bytesOf(label: string | Uint8Array): Uint8Array {
  return typeof label === 'string' ? encoder.encode(label) : label;
}

/** A Merlin transcript. */
export class MerlinTranscript {
  private readonly strobe: Strobe128;

  public constructor(label: string | Uint8Array) {
    this.strobe = new Strobe128(encoder.encode('Merlin v1.0'));
    this.appendMessage('dom-sep', label);
  }

  public appendMessage(label: string | Uint8Array, message: string | Uint8Array): void {
    const msg = bytesOf(message);
    this.strobe.metaAd(bytesOf(label), false);
    this.strobe.metaAd(le32(msg.length), true);
    this.strobe.ad(msg, false);
  }

  public challengeBytes(label: string | Uint8Array, length: number): Uint8Array {
    this.strobe.metaAd(bytesOf(label), false);
    this.strobe.metaAd(le32(length), true);
    return this.strobe.prf(length, false);
  }
}

/**
 * The per-connection transcript every tapir application writes into, so that a later step
 * (e.g. a proof of work or token issuance) is bound to everything before it on the same
 * connection.
 */
export class Transcript {
  private readonly merlin: MerlinTranscript;

  public constructor(label: string) {
    this.merlin = new MerlinTranscript(label);
  }

  /** Start a sub-protocol: later entries are domain-separated from those before it. */
  public newProtocol(label: string): void {
    this.merlin.appendMessage('protocol', label);
  }

  public add(label: string, data: string | Uint8Array): void {
    this.merlin.appendMessage(label, data);
  }

  /** A 64-byte commitment to everything so far; also changes the transcript state. */
  public commit(label: string, length = 64): Uint8Array {
    return this.merlin.challengeBytes(label, length);
  }
}
