// @ts-check
import { ESLintUtils } from '@typescript-eslint/utils';
import ts from 'typescript';

/**
 * local/no-dynamic-record-lookup: an arbitrary string used as a property name on a plain object
 * (`obj[key]` read, write or delete, and `key in obj`) also reaches Object.prototype, so a
 * name such as `constructor`, `toString` or `__proto__` chosen by someone else finds something
 * that is not data (issue 11: a role named `constructor` crashed every replica). Keys whose type
 * is a union of string literals are fine (the compiler bounds them), and so are arrays, tuples,
 * typed arrays and Maps. An access is accepted where an own-property check on the same object
 * and key guards it: `Object.hasOwn(o, k) && o[k]`, `Object.hasOwn(o, k) ? o[k] : …`,
 * `if (Object.hasOwn(o, k)) { … o[k] … }`, or an earlier `if (!Object.hasOwn(o, k)) return;`
 * in the same block. Otherwise use a Map, or a helper that checks Object.hasOwn first.
 */

const createRule = ESLintUtils.RuleCreator((name) => `eslint-rules/${name}.js`);

/** Container types whose computed members are not prototype lookups of a name. */
const SAFE_CONTAINERS = new Set([
  'Map',
  'ReadonlyMap',
  'WeakMap',
  'Set',
  'ReadonlySet',
  'WeakSet',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
  'Buffer',
  'ArrayBuffer',
  'DataView',
]);

const OPEN_STRING = ts.TypeFlags.String | ts.TypeFlags.TemplateLiteral | ts.TypeFlags.StringMapping;
const DEFERRED = ts.TypeFlags.TypeParameter | ts.TypeFlags.Index | ts.TypeFlags.IndexedAccess | ts.TypeFlags.Conditional | ts.TypeFlags.Substitution;

/** @typedef {import('@typescript-eslint/utils').TSESTree.Node} Node */
/** @typedef {import('@typescript-eslint/utils').TSESTree.Expression} Expression */

export const noDynamicRecordLookup = createRule({
  name: 'no-dynamic-record-lookup',
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow looking up arbitrary strings on plain objects (Object.prototype names hit the prototype); needs type information',
    },
    messages: {
      lookup:
        '`{{object}}[{{key}}]`: `{{key}}` is an arbitrary string, so names like `constructor` or `__proto__` reach Object.prototype. Use a Map, or check Object.hasOwn({{object}}, {{key}}) first.',
      inOperator: '`{{key}} in {{object}}` is true for Object.prototype names such as `constructor`. Use a Map, or Object.hasOwn({{object}}, {{key}}).',
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const services = ESLintUtils.getParserServices(context);
    const checker = services.program.getTypeChecker();
    const source = context.sourceCode;

    /**
     * @param {ts.Type} type
     * @param {number} depth
     * @returns {boolean} whether values of this type may be any string
     */
    const isOpenString = (type, depth = 0) => {
      if (depth > 8) return false;
      if (type.flags & OPEN_STRING) return true;
      if (type.isUnion() || type.isIntersection()) return type.types.some((t) => isOpenString(t, depth + 1));
      if (type.flags & DEFERRED) {
        const constraint = checker.getBaseConstraintOfType(type);
        return constraint !== undefined && constraint !== type && isOpenString(constraint, depth + 1);
      }
      return false;
    };

    /**
     * @param {ts.Type} type
     * @param {number} depth
     * @returns {boolean} whether every value of this type is a container that is not a plain object
     */
    const isSafeContainer = (type, depth = 0) => {
      if (depth > 8) return false;
      if (type.isUnion()) return type.types.every((t) => isSafeContainer(t, depth + 1));
      if (type.isIntersection()) return type.types.some((t) => isSafeContainer(t, depth + 1));
      if (type.flags & ts.TypeFlags.TypeParameter) {
        const constraint = checker.getBaseConstraintOfType(type);
        return constraint !== undefined && constraint !== type && isSafeContainer(constraint, depth + 1);
      }
      if (checker.isArrayType(type) || checker.isTupleType(type)) return true;
      if (type.flags & ts.TypeFlags.StringLike) return true;
      const name = (type.aliasSymbol ?? type.getSymbol())?.getName();
      return name !== undefined && SAFE_CONTAINERS.has(name);
    };

    /** @param {Node} node */
    const text = (node) => source.getText(node).replace(/\s+/g, '');

    /**
     * `Object.hasOwn(o, k)` or `Object.prototype.hasOwnProperty.call(o, k)` on this object and key.
     * @param {Node} node
     * @param {string} object
     * @param {string} key
     */
    const isOwnCheck = (node, object, key) => {
      if (node.type !== 'CallExpression' || node.arguments.length !== 2) return false;
      const callee = text(node.callee);
      if (callee !== 'Object.hasOwn' && callee !== 'Object.prototype.hasOwnProperty.call') return false;
      const [o, k] = node.arguments;
      return o !== undefined && k !== undefined && text(o) === object && text(k) === key;
    };

    /**
     * Does `test` being true imply the own check (it, or a conjunct of it)?
     * @param {Node} test
     * @param {string} object
     * @param {string} key
     * @returns {boolean}
     */
    const impliesOwn = (test, object, key) => {
      if (test.type === 'LogicalExpression' && test.operator === '&&') return impliesOwn(test.left, object, key) || impliesOwn(test.right, object, key);
      return isOwnCheck(test, object, key);
    };

    /**
     * Does `test` being false imply the own check (`!Object.hasOwn(o, k)`, or a disjunct of it)?
     * @param {Node} test
     * @param {string} object
     * @param {string} key
     * @returns {boolean}
     */
    const falseImpliesOwn = (test, object, key) => {
      if (test.type === 'LogicalExpression' && test.operator === '||')
        return falseImpliesOwn(test.left, object, key) || falseImpliesOwn(test.right, object, key);
      return test.type === 'UnaryExpression' && test.operator === '!' && isOwnCheck(test.argument, object, key);
    };

    /**
     * @param {Node} statement
     * @returns {boolean} whether control never falls through this statement
     */
    const exits = (statement) => {
      if (['ReturnStatement', 'ThrowStatement', 'ContinueStatement', 'BreakStatement'].includes(statement.type)) return true;
      if (statement.type === 'BlockStatement') {
        const last = statement.body.at(-1);
        return last !== undefined && exits(last);
      }
      return false;
    };

    /**
     * Is `node` only reached when `Object.hasOwn(object, key)` held?
     * @param {Node} node
     * @param {string} object
     * @param {string} key
     */
    const isGuarded = (node, object, key) => {
      /** @type {Node} */
      let child = node;
      for (let parent = node.parent; parent; child = parent, parent = parent.parent) {
        switch (parent.type) {
          case 'LogicalExpression':
            if (parent.operator === '&&' && parent.right === child && impliesOwn(parent.left, object, key)) return true;
            if (parent.operator === '||' && parent.right === child && falseImpliesOwn(parent.left, object, key)) return true;
            break;
          case 'ConditionalExpression':
          case 'IfStatement':
            if (parent.consequent === child && impliesOwn(parent.test, object, key)) return true;
            if (parent.alternate === child && falseImpliesOwn(parent.test, object, key)) return true;
            break;
          case 'BlockStatement':
          case 'Program': {
            const index = parent.body.indexOf(/** @type {never} */ (child));
            for (const earlier of parent.body.slice(0, Math.max(index, 0))) {
              if (earlier.type === 'IfStatement' && earlier.alternate === null && exits(earlier.consequent) && falseImpliesOwn(earlier.test, object, key))
                return true;
            }
            break;
          }
          case 'FunctionDeclaration':
          case 'FunctionExpression':
          case 'ArrowFunctionExpression':
            return false;
        }
      }
      return false;
    };

    /** @param {Node} node */
    const typeOf = (node) => checker.getTypeAtLocation(services.esTreeNodeToTSNodeMap.get(node));

    return {
      MemberExpression(node) {
        if (!node.computed) return;
        if (!isOpenString(typeOf(node.property))) return;
        if (isSafeContainer(typeOf(node.object))) return;
        const object = text(node.object);
        const key = text(node.property);
        if (isGuarded(node, object, key)) return;
        context.report({ node, messageId: 'lookup', data: { object, key } });
      },
      BinaryExpression(node) {
        if (node.operator !== 'in' || node.left.type === 'PrivateIdentifier') return;
        if (!isOpenString(typeOf(node.left))) return;
        if (isSafeContainer(typeOf(node.right))) return;
        context.report({ node, messageId: 'inOperator', data: { object: text(node.right), key: text(node.left) } });
      },
    };
  },
});
