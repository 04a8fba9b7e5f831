package workpool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"
)

// MaxExactInt is the largest integer magnitude that a protobuf Value, whose
// numbers are IEEE 754 doubles, stores exactly (2**53).
const MaxExactInt = 1 << 53

// ToValue converts JSON-like Go data to a google.protobuf.Value.
//
// It accepts nil, bool, every integer type (up to MaxExactInt in magnitude),
// finite float32 and float64, string, json.Number, map[string]any,
// []any, *structpb.Value, and any other value that encoding/json can
// marshal, such as structs with json tags. Integers beyond MaxExactInt, NaN
// and infinities return an error that names the path of the bad value.
func ToValue(v any) (*structpb.Value, error) {
	return toValue(v, "value")
}

func toValue(v any, path string) (*structpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case *structpb.Value:
		if x == nil {
			return structpb.NewNullValue(), nil
		}
		return x, nil
	case bool:
		return structpb.NewBoolValue(x), nil
	case string:
		return structpb.NewStringValue(x), nil
	case int:
		return intValue(int64(x), path)
	case int8:
		return intValue(int64(x), path)
	case int16:
		return intValue(int64(x), path)
	case int32:
		return intValue(int64(x), path)
	case int64:
		return intValue(x, path)
	case uint:
		return uintValue(uint64(x), path)
	case uint8:
		return uintValue(uint64(x), path)
	case uint16:
		return uintValue(uint64(x), path)
	case uint32:
		return uintValue(uint64(x), path)
	case uint64:
		return uintValue(x, path)
	case float32:
		return floatValue(float64(x), path)
	case float64:
		return floatValue(x, path)
	case json.Number:
		return numberValue(x, path)
	case map[string]any:
		return mapValue(x, path)
	case []any:
		return listValue(x, path)
	}
	return reflectValue(v, path)
}

func intValue(n int64, path string) (*structpb.Value, error) {
	if n > MaxExactInt || n < -MaxExactInt {
		return nil, fmt.Errorf("workpool: %s is %d, beyond 2**53, so a protobuf Value (a double) cannot hold it exactly; send it as a string", path, n)
	}
	return structpb.NewNumberValue(float64(n)), nil
}

func uintValue(n uint64, path string) (*structpb.Value, error) {
	if n > MaxExactInt {
		return nil, fmt.Errorf("workpool: %s is %d, beyond 2**53, so a protobuf Value (a double) cannot hold it exactly; send it as a string", path, n)
	}
	return structpb.NewNumberValue(float64(n)), nil
}

func floatValue(f float64, path string) (*structpb.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("workpool: %s is %v; NaN and infinity have no JSON form, so send a finite number, nil or a string", path, f)
	}
	return structpb.NewNumberValue(f), nil
}

func numberValue(n json.Number, path string) (*structpb.Value, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return intValue(i, path)
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("workpool: %s is the invalid number %q", path, string(n))
	}
	return floatValue(f, path)
}

func mapValue(m map[string]any, path string) (*structpb.Value, error) {
	fields := make(map[string]*structpb.Value, len(m))
	for key, item := range m {
		value, err := toValue(item, path+"["+strconv.Quote(key)+"]")
		if err != nil {
			return nil, err
		}
		fields[key] = value
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: fields}), nil
}

func listValue(items []any, path string) (*structpb.Value, error) {
	values := make([]*structpb.Value, len(items))
	for i, item := range items {
		value, err := toValue(item, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		values[i] = value
	}
	return structpb.NewListValue(&structpb.ListValue{Values: values}), nil
}

// reflectValue handles typed maps and slices element by element, so error
// paths stay precise, and everything else through encoding/json.
func reflectValue(v any, path string) (*structpb.Value, error) {
	rv := reflect.ValueOf(v)
	_, isMarshaler := v.(json.Marshaler)
	if !isMarshaler {
		switch rv.Kind() {
		case reflect.Map:
			if rv.Type().Key().Kind() == reflect.String {
				if rv.IsNil() {
					return structpb.NewNullValue(), nil
				}
				m := make(map[string]any, rv.Len())
				iter := rv.MapRange()
				for iter.Next() {
					m[iter.Key().String()] = iter.Value().Interface()
				}
				return mapValue(m, path)
			}
		case reflect.Slice, reflect.Array:
			if rv.Kind() == reflect.Slice && rv.IsNil() {
				return structpb.NewNullValue(), nil
			}
			if rv.Type().Elem().Kind() != reflect.Uint8 {
				items := make([]any, rv.Len())
				for i := range items {
					items[i] = rv.Index(i).Interface()
				}
				return listValue(items, path)
			}
		case reflect.Pointer:
			if rv.IsNil() {
				return structpb.NewNullValue(), nil
			}
		}
	}

	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("workpool: %s has type %T, which cannot be encoded as JSON: %w", path, v, err)
	}
	var decoded any
	if err := unmarshalNumbers(data, &decoded); err != nil {
		return nil, fmt.Errorf("workpool: %s has type %T, whose JSON form cannot be decoded: %w", path, v, err)
	}
	return toValue(decoded, path)
}

// FromValue converts a google.protobuf.Value to plain Go data, as
// encoding/json decodes into an any: nil, bool, float64, string,
// map[string]any and []any. A nil Value converts to nil.
func FromValue(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	return v.AsInterface()
}

// DecodeValue stores a Value in the value pointed to by dst, through its
// JSON form, so dst may be a struct with json tags, a map, a slice or a
// scalar.
func DecodeValue(v *structpb.Value, dst any) error {
	if v == nil {
		v = structpb.NewNullValue()
	}
	data, err := v.MarshalJSON()
	if err != nil {
		return fmt.Errorf("workpool: encode value as JSON: %w", err)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("workpool: decode value into %T: %w", dst, err)
	}
	return nil
}

func unmarshalNumbers(data []byte, dst *any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	return decoder.Decode(dst)
}
