export { base64Bytes, base64Length, base64UpTo, bytes, bytesUpTo } from './fields.js';
export { decodeJSON, encodeJSON, parseJSONText, type CodecFailure, type JSONLimits } from './json.js';
