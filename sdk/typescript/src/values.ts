// Conversions between JSON-like JavaScript values and google.protobuf.Value.
//
// A Value holds JSON data, and its numbers are IEEE 754 doubles, the same as
// a JavaScript number, so every finite number round-trips exactly.

import { create } from "@bufbuild/protobuf";
import {
  ListValueSchema,
  NullValue,
  StructSchema,
  ValueSchema,
  type Value,
} from "@bufbuild/protobuf/wkt";

/** JSON-like data: what args, context and return values can hold. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Converts a JSON-like value to a google.protobuf.Value.
 *
 * Accepted: null, booleans, finite numbers, strings, arrays and plain
 * objects. A top-level `undefined` becomes null, and object properties whose
 * value is `undefined` are left out, as `JSON.stringify` does. `name` is how
 * error messages refer to the value, such as "args".
 *
 * @throws TypeError for any other type, such as a bigint, a Date, a Map or an
 *   `undefined` array element.
 * @throws RangeError for NaN and infinite numbers.
 */
export function toValue(input: unknown, name = "value"): Value {
  if (input === undefined) {
    return nullValue();
  }
  return convert(input, name);
}

/** Converts a google.protobuf.Value to plain JSON-like data; unset is null. */
export function fromValue(value: Value | undefined): JsonValue {
  if (value === undefined) {
    return null;
  }

  const kind = value.kind;
  switch (kind.case) {
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return kind.value;
    case "structValue": {
      const result: { [key: string]: JsonValue } = {};
      for (const [key, item] of Object.entries(kind.value.fields)) {
        result[key] = fromValue(item);
      }
      return result;
    }
    case "listValue":
      return kind.value.values.map((item) => fromValue(item));
    default:
      return null;
  }
}

function nullValue(): Value {
  return create(ValueSchema, {
    kind: { case: "nullValue", value: NullValue.NULL_VALUE },
  });
}

function convert(input: unknown, path: string): Value {
  if (input === null) {
    return nullValue();
  }

  switch (typeof input) {
    case "boolean":
      return create(ValueSchema, { kind: { case: "boolValue", value: input } });
    case "number":
      if (!Number.isFinite(input)) {
        throw new RangeError(
          `${path} is ${input}; NaN and infinity have no JSON form, so send ` +
            "a finite number, null or a string instead",
        );
      }
      return create(ValueSchema, { kind: { case: "numberValue", value: input } });
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: input } });
    case "bigint":
      throw new TypeError(
        `${path} is the bigint ${input}n, which a protobuf Value (a double) ` +
          "cannot hold; send it as a string or a number",
      );
    case "object":
      break;
    default:
      throw new TypeError(
        `${path} has type ${typeof input}, which is not JSON-like; use null, ` +
          "a boolean, a number, a string, an array or a plain object",
      );
  }

  if (Array.isArray(input)) {
    return convertArray(input, path);
  }
  const prototype = Object.getPrototypeOf(input);
  if (prototype !== Object.prototype && prototype !== null) {
    const typeName = (input as object).constructor?.name ?? "object";
    throw new TypeError(
      `${path} is a ${typeName}, which is not a plain object; convert it ` +
        "first, such as a Date with toISOString() or a Map with Object.fromEntries()",
    );
  }
  return convertObject(input as Record<string, unknown>, path);
}

function convertArray(input: unknown[], path: string): Value {
  const values: Value[] = [];
  for (let index = 0; index < input.length; index++) {
    const item = input[index];
    if (item === undefined) {
      throw new TypeError(
        `${path}[${index}] is undefined, which has no JSON form; use null`,
      );
    }
    values.push(convert(item, `${path}[${index}]`));
  }
  return create(ValueSchema, {
    kind: { case: "listValue", value: create(ListValueSchema, { values }) },
  });
}

function convertObject(input: Record<string, unknown>, path: string): Value {
  const fields: { [key: string]: Value } = {};
  for (const [key, item] of Object.entries(input)) {
    if (item === undefined) {
      continue;
    }
    fields[key] = convert(item, `${path}.${key}`);
  }
  return create(ValueSchema, {
    kind: { case: "structValue", value: create(StructSchema, { fields }) },
  });
}
