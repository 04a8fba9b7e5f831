package dev.workpool;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Conversions between plain Java values and {@code google.protobuf.Value}.
 *
 * <p>A {@code Value} holds JSON-like data: {@code null}, {@link Boolean}, numbers, {@link String},
 * maps with {@code String} keys and lists. Every number travels as a 64-bit double, so integers
 * are exact only up to 2^53 in absolute value; larger {@code Long} values are rejected instead of
 * being rounded. Numbers always come back as {@link Double}.
 */
public final class Values {
  /** Largest integer that a double stores exactly, together with every smaller one. */
  public static final long MAX_EXACT_INTEGER = 1L << 53;

  private Values() {}

  /**
   * Converts a JSON-like Java value to a {@code Value}.
   *
   * <p>Accepted: {@code null}, {@link Boolean}, {@link Byte}, {@link Short}, {@link Integer},
   * {@link Long} (up to 2^53 in absolute value), finite {@link Float} and {@link Double}, {@link
   * CharSequence}, {@link Map} with {@code String} keys, {@link Iterable} and arrays of objects.
   *
   * @throws IllegalArgumentException naming the path of the first value that has another type, a
   *     key that is not a {@code String}, a NaN or infinite number, or a long too large to stay
   *     exact
   */
  public static Value toValue(Object object) {
    return toValue(object, "value");
  }

  /** Converts like {@link #toValue(Object)}; {@code name} starts the path in error messages. */
  public static Value toValue(Object object, String name) {
    return convert(object, name, 0);
  }

  /**
   * Converts a {@code Value} to plain Java data: {@code null}, {@link Boolean}, {@link Double},
   * {@link String}, an unmodifiable {@code Map<String, Object>} in the order of the message, or an
   * unmodifiable {@code List<Object>}. A {@code null} or unset value converts to {@code null}.
   */
  public static Object fromValue(Value value) {
    if (value == null) {
      return null;
    }
    switch (value.getKindCase()) {
      case BOOL_VALUE:
        return value.getBoolValue();
      case NUMBER_VALUE:
        return value.getNumberValue();
      case STRING_VALUE:
        return value.getStringValue();
      case STRUCT_VALUE:
        Map<String, Object> map = new LinkedHashMap<>();
        for (Map.Entry<String, Value> entry : value.getStructValue().getFieldsMap().entrySet()) {
          map.put(entry.getKey(), fromValue(entry.getValue()));
        }
        return Collections.unmodifiableMap(map);
      case LIST_VALUE:
        List<Object> list = new ArrayList<>();
        for (Value item : value.getListValue().getValuesList()) {
          list.add(fromValue(item));
        }
        return Collections.unmodifiableList(list);
      case NULL_VALUE:
      case KIND_NOT_SET:
      default:
        return null;
    }
  }

  // Each JSON level costs the server's decoder three protobuf levels (Value, Struct and the map
  // entry), and its limit of 100 allows about 32; a deeper value would be rejected by the server
  // anyway, and this bound also stops a map that contains itself.
  private static final int MAX_DEPTH = 32;

  private static Value convert(Object object, String path, int depth) {
    if (depth > MAX_DEPTH) {
      throw new IllegalArgumentException(
          path + " is nested more than " + MAX_DEPTH + " levels deep; flatten the value");
    }
    if (object == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (object instanceof Boolean) {
      return Value.newBuilder().setBoolValue((Boolean) object).build();
    }
    if (object instanceof Byte || object instanceof Short || object instanceof Integer) {
      return Value.newBuilder().setNumberValue(((Number) object).intValue()).build();
    }
    if (object instanceof Long) {
      long number = (Long) object;
      if (number > MAX_EXACT_INTEGER || number < -MAX_EXACT_INTEGER) {
        throw new IllegalArgumentException(
            path
                + " is "
                + number
                + ", which a protobuf Value (a double) cannot hold exactly because its absolute"
                + " value exceeds 2^53; send it as a String");
      }
      return Value.newBuilder().setNumberValue((double) number).build();
    }
    if (object instanceof Float || object instanceof Double) {
      double number = ((Number) object).doubleValue();
      if (Double.isNaN(number) || Double.isInfinite(number)) {
        throw new IllegalArgumentException(
            path + " is " + number + "; NaN and infinity have no JSON form, so send a finite"
                + " number, null or a String instead");
      }
      return Value.newBuilder().setNumberValue(number).build();
    }
    if (object instanceof CharSequence) {
      return Value.newBuilder().setStringValue(object.toString()).build();
    }
    if (object instanceof Map) {
      Struct.Builder struct = Struct.newBuilder();
      for (Map.Entry<?, ?> entry : ((Map<?, ?>) object).entrySet()) {
        if (!(entry.getKey() instanceof String)) {
          throw new IllegalArgumentException(
              path + " has the key " + entry.getKey() + " of type " + typeName(entry.getKey())
                  + "; map keys must be Strings");
        }
        String key = (String) entry.getKey();
        struct.putFields(key, convert(entry.getValue(), path + "[\"" + key + "\"]", depth + 1));
      }
      return Value.newBuilder().setStructValue(struct).build();
    }
    if (object instanceof Iterable || object instanceof Object[]) {
      Iterable<?> items =
          object instanceof Object[] ? Arrays.asList((Object[]) object) : (Iterable<?>) object;
      ListValue.Builder list = ListValue.newBuilder();
      int index = 0;
      for (Object item : items) {
        list.addValues(convert(item, path + "[" + index + "]", depth + 1));
        index++;
      }
      return Value.newBuilder().setListValue(list).build();
    }
    throw new IllegalArgumentException(
        path + " has type " + typeName(object) + ", which is not JSON-like; use null, Boolean,"
            + " a number, String, a Map with String keys, a List or an array");
  }

  private static String typeName(Object object) {
    return object == null ? "null" : object.getClass().getName();
  }
}
