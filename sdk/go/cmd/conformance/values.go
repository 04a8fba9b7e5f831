package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// expand replaces every {"$repeat": s, "times": n} object inside v with s
// repeated n times.
func expand(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 2 {
			text, isText := x["$repeat"].(string)
			times, isNumber := x["times"].(float64)
			if _, has := x["$repeat"]; has {
				if !isText || !isNumber || times < 0 || times != float64(int(times)) {
					return nil, fmt.Errorf("invalid $repeat value %v", describe(x))
				}
				return strings.Repeat(text, int(times)), nil
			}
		}
		out := make(map[string]any, len(x))
		for key, item := range x {
			expanded, err := expand(item)
			if err != nil {
				return nil, err
			}
			out[key] = expanded
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			expanded, err := expand(item)
			if err != nil {
				return nil, err
			}
			out[i] = expanded
		}
		return out, nil
	}
	return v, nil
}

// difference returns "" when actual and expected are equal as JSON
// (numbers by value, objects by keys in any order), or else where they
// first differ.
func difference(actual, expected any, path string) string {
	switch e := expected.(type) {
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %s, expected an object", path, describe(actual))
		}
		if !sameKeys(a, e) {
			return fmt.Sprintf("%s has keys %v, expected %v", path, keys(a), keys(e))
		}
		for _, key := range keys(e) {
			if diff := difference(a[key], e[key], path+"."+key); diff != "" {
				return diff
			}
		}
		return ""
	case []any:
		a, ok := actual.([]any)
		if !ok {
			return fmt.Sprintf("%s is %s, expected a list", path, describe(actual))
		}
		if len(a) != len(e) {
			return fmt.Sprintf("%s has %d elements, expected %d", path, len(a), len(e))
		}
		for i := range e {
			if diff := difference(a[i], e[i], fmt.Sprintf("%s[%d]", path, i)); diff != "" {
				return diff
			}
		}
		return ""
	case string:
		a, ok := actual.(string)
		if !ok {
			return fmt.Sprintf("%s is %s, expected a string", path, describe(actual))
		}
		if a != e {
			index := 0
			for index < len(a) && index < len(e) && a[index] == e[index] {
				index++
			}
			return fmt.Sprintf("%s is a string of %d bytes, expected %d, first differing at byte %d", path, len(a), len(e), index)
		}
		return ""
	}
	if actual != expected {
		return fmt.Sprintf("%s is %s, expected %s", path, describe(actual), describe(expected))
	}
	return ""
}

func sameKeys(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for key := range b {
		if _, ok := a[key]; !ok {
			return false
		}
	}
	return true
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for key := range m {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

// describe returns a short JSON form, so large payloads do not flood a FAIL
// line.
func describe(v any) string {
	data, err := json.Marshal(v)
	text := string(data)
	if err != nil {
		text = fmt.Sprint(v)
	}
	const limit = 120
	if len(text) <= limit {
		return text
	}
	return fmt.Sprintf("%s... (%d bytes)", text[:limit], len(text))
}
