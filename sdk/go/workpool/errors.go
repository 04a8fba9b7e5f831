package workpool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, one per gRPC code class. Test with errors.Is:
//
//	if errors.Is(err, workpool.ErrNotFound) { ... }
//
// and use errors.As with *Error for the code, message and field violations.
var (
	ErrInvalidArgument    = &codeClass{"invalid argument", []codes.Code{codes.InvalidArgument}}
	ErrNotFound           = &codeClass{"not found", []codes.Code{codes.NotFound}}
	ErrAlreadyExists      = &codeClass{"already exists", []codes.Code{codes.AlreadyExists}}
	ErrFailedPrecondition = &codeClass{"failed precondition", []codes.Code{codes.FailedPrecondition}}
	ErrResourceExhausted  = &codeClass{"resource exhausted", []codes.Code{codes.ResourceExhausted}}
	ErrOutOfRange         = &codeClass{"out of range", []codes.Code{codes.OutOfRange}}
	ErrUnavailable        = &codeClass{"unavailable", []codes.Code{codes.Unavailable}}
	ErrDeadlineExceeded   = &codeClass{"deadline exceeded", []codes.Code{codes.DeadlineExceeded}}
	ErrUnauthenticated    = &codeClass{"unauthenticated", []codes.Code{codes.Unauthenticated}}
	ErrPermissionDenied   = &codeClass{"permission denied", []codes.Code{codes.PermissionDenied}}
	ErrUnimplemented      = &codeClass{"unimplemented", []codes.Code{codes.Unimplemented}}
	// ErrInternal matches INTERNAL, UNKNOWN and DATA_LOSS.
	ErrInternal = &codeClass{"internal", []codes.Code{codes.Internal, codes.Unknown, codes.DataLoss}}
)

type codeClass struct {
	name  string
	codes []codes.Code
}

func (c *codeClass) Error() string { return "workpool: " + c.name }

func (c *codeClass) matches(code codes.Code) bool {
	for _, candidate := range c.codes {
		if candidate == code {
			return true
		}
	}
	return false
}

// FieldViolation is one invalid request field from a google.rpc.BadRequest
// detail, such as Field "work[3].args".
type FieldViolation struct {
	Field       string
	Description string
}

// Error is the error of a failed server call. Every method of Client and
// the worker's fatal errors return it (wrapped at most once), so
// errors.As(err, &wpErr) gives the gRPC code, the server's message and the
// field violations.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the server's status message.
	Message string
	// Violations lists the BadRequest field violations of the status
	// details, on INVALID_ARGUMENT and RESOURCE_EXHAUSTED.
	Violations []FieldViolation
	status     *status.Status
}

func (e *Error) Error() string {
	text := fmt.Sprintf("workpool: %s: %s", codeName(e.Code), e.Message)
	var missing []string
	for _, v := range e.Violations {
		// Servers often repeat the violations in the message; add only the
		// ones it leaves out.
		if !strings.Contains(e.Message, v.Description) {
			missing = append(missing, v.Field+": "+v.Description)
		}
	}
	if len(missing) > 0 {
		text += " (" + strings.Join(missing, "; ") + ")"
	}
	return text
}

// Is reports whether target is the sentinel error of e's code.
func (e *Error) Is(target error) bool {
	class, ok := target.(*codeClass)
	return ok && class.matches(e.Code)
}

// GRPCStatus returns the original status, so status.FromError and
// status.Code work on the error too.
func (e *Error) GRPCStatus() *status.Status { return e.status }

// HasViolation reports whether a field violation names field exactly.
func (e *Error) HasViolation(field string) bool {
	for _, v := range e.Violations {
		if v.Field == field {
			return true
		}
	}
	return false
}

// Code returns the gRPC code of err: the code of a *Error or of a gRPC
// status inside it, codes.Canceled or codes.DeadlineExceeded for context
// errors, codes.OK for nil and codes.Unknown otherwise.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var wpErr *Error
	if errors.As(err, &wpErr) {
		return wpErr.Code
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

// invalidArgument returns the error of input that the SDK rejects before
// any call: an INVALID_ARGUMENT *Error whose one violation names field as
// the server would, such as "work.retry_policy.max_attempts".
func invalidArgument(field, format string, args ...any) error {
	message := fmt.Sprintf(format, args...)
	return &Error{
		Code:       codes.InvalidArgument,
		Message:    message,
		Violations: []FieldViolation{{Field: field, Description: message}},
		status:     status.New(codes.InvalidArgument, message),
	}
}

// fromRPC converts the error of a gRPC call to a *Error. It is the one
// place where the SDK maps status codes and reads status details. Context
// errors and nil pass through unchanged.
func fromRPC(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, isStatus := status.FromError(err); !isStatus {
			return err
		}
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return &Error{
		Code:       st.Code(),
		Message:    st.Message(),
		Violations: fieldViolations(st),
		status:     st,
	}
}

func fieldViolations(st *status.Status) []FieldViolation {
	var violations []FieldViolation
	for _, detail := range st.Details() {
		badRequest, ok := detail.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range badRequest.GetFieldViolations() {
			violations = append(violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
		}
	}
	return violations
}

// codeName returns the canonical upper-case name, such as "NOT_FOUND".
func codeName(code codes.Code) string {
	name, ok := codeNames[code]
	if !ok {
		return code.String()
	}
	return name
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName returns the canonical name of a gRPC code, such as "NOT_FOUND",
// as status codes are spelled in the protocol documentation.
func CodeName(code codes.Code) string { return codeName(code) }

// nonRetryableError marks a handler error as not worth retrying.
type nonRetryableError struct{ err error }

func (e *nonRetryableError) Error() string { return e.err.Error() }
func (e *nonRetryableError) Unwrap() error { return e.err }

// NonRetryable wraps a handler error so the worker reports the failure as
// non-retryable: the item ends as failed at once, even with attempts left.
// NonRetryable(nil) returns nil.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryableError{err: err}
}

// IsNonRetryable reports whether err or an error it wraps came from
// NonRetryable.
func IsNonRetryable(err error) bool {
	var target *nonRetryableError
	return errors.As(err, &target)
}

// Cancel causes of a handler's context, read with context.Cause(ctx).
var (
	// ErrCancelRequested: a client canceled the item. A handler that still
	// returns a value reports success; an error ends the item as canceled.
	ErrCancelRequested = errors.New("workpool: cancel requested by a client")
	// ErrLeaseLost: the server no longer leases the attempt to this worker,
	// so its result will be ignored.
	ErrLeaseLost = errors.New("workpool: lease lost")
	// ErrAttemptTimedOut: the attempt ran past its attempt timeout. The
	// server already ended it as a failure, retried per the item's policy,
	// and ignores its result.
	ErrAttemptTimedOut = errors.New("workpool: attempt timed out")
	// ErrWorkerStopped: the worker's stream closed or its stop grace period
	// ended, so the result will be dropped.
	ErrWorkerStopped = errors.New("workpool: worker stopped")
)
