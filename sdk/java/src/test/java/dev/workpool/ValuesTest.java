package dev.workpool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Value;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ValuesTest {
  @Test
  void nestedValuesRoundTrip() {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("to", "ada@example.com");
    args.put("count", 3);
    args.put("ratio", 0.5);
    args.put("flags", Arrays.asList(true, null, "x"));
    args.put("nested", Map.of("id", 7L));

    Object back = Values.fromValue(Values.toValue(args));

    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("to", "ada@example.com");
    expected.put("count", 3.0);
    expected.put("ratio", 0.5);
    expected.put("flags", Arrays.asList(true, null, "x"));
    expected.put("nested", Map.of("id", 7.0));
    assertEquals(expected, back);
  }

  @Test
  void nullAndUnsetConvertToNull() {
    assertTrue(Values.toValue(null).hasNullValue());
    assertNull(Values.fromValue(Value.getDefaultInstance()));
    assertNull(Values.fromValue(null));
  }

  @Test
  void arraysBecomeLists() {
    assertEquals(List.of(1.0, "a"), Values.fromValue(Values.toValue(new Object[] {1, "a"})));
  }

  @Test
  void longBeyondExactRangeRejected() {
    Values.toValue(Values.MAX_EXACT_INTEGER);
    IllegalArgumentException error =
        assertThrows(
            IllegalArgumentException.class,
            () -> Values.toValue(Map.of("id", Values.MAX_EXACT_INTEGER + 1), "args"));
    assertTrue(error.getMessage().contains("args[\"id\"]"), error.getMessage());
  }

  @Test
  void nanAndInfinityRejected() {
    assertThrows(IllegalArgumentException.class, () -> Values.toValue(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> Values.toValue(Float.POSITIVE_INFINITY));
  }

  @Test
  void nonStringKeyRejected() {
    IllegalArgumentException error =
        assertThrows(IllegalArgumentException.class, () -> Values.toValue(Map.of(1, "one")));
    assertTrue(error.getMessage().contains("key 1"), error.getMessage());
  }

  @Test
  void otherTypesRejectedWithPath() {
    IllegalArgumentException error =
        assertThrows(
            IllegalArgumentException.class,
            () -> Values.toValue(List.of("ok", new Object()), "args"));
    assertTrue(error.getMessage().startsWith("args[1]"), error.getMessage());
  }
}
