package dev.workpool;

/**
 * One invalid field of a request, from a {@code google.rpc.BadRequest} detail of the error.
 *
 * @param field path of the field, such as {@code work[3].args}
 * @param description the rule that the field broke
 */
public record FieldViolation(String field, String description) {}
