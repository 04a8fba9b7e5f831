package main

import (
	"context"
	"fmt"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// watchStart subscribes to the scenario's pool: from the log's end, or
// with resume after the last sequence the named subscription delivered. It
// returns once the server sent the first message.
func (r *scenarioRun) watchStart(s step, resume bool) error {
	name, err := s.requireStr("name")
	if err != nil {
		return err
	}
	state := r.watches[name]
	opts := []workpool.WatchOption{workpool.WatchPools(r.pool)}
	if resume {
		if state == nil || state.cancel != nil {
			return fmt.Errorf("no stopped subscription named %q to resume", name)
		}
		r.mu.Lock()
		seen := len(state.seen)
		var last int64
		if seen > 0 {
			last = state.seen[seen-1].Sequence
		}
		r.mu.Unlock()
		if seen == 0 {
			return fmt.Errorf("subscription %q delivered nothing before it stopped, so it has no sequence to resume after", name)
		}
		opts = append(opts, workpool.WatchAfter(last))
	} else {
		if state != nil {
			return fmt.Errorf("a subscription named %q already exists", name)
		}
		state = &watchState{}
		r.watches[name] = state
	}

	connected := make(chan struct{})
	opts = append(opts, workpool.WatchConnected(func(int64) {
		select {
		case <-connected:
		default:
			close(connected)
		}
	}))
	ctx, cancel := context.WithCancel(r.ctx)
	state.cancel = cancel
	state.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		for completion, err := range r.client.WatchCompletions(ctx, opts...) {
			r.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					state.err = err
				}
			} else {
				state.seen = append(state.seen, completion)
			}
			r.mu.Unlock()
		}
	}(state.done)

	select {
	case <-connected:
		return nil
	case <-state.done:
		return fmt.Errorf("subscription %q ended before its first message: %v", name, state.err)
	case <-time.After(expectTimeout):
		return fmt.Errorf("subscription %q got no first message within %v", name, expectTimeout)
	}
}

func (r *scenarioRun) watchStop(s step) error {
	name, err := s.requireStr("name")
	if err != nil {
		return err
	}
	state := r.watches[name]
	if state == nil || state.cancel == nil {
		return fmt.Errorf("no running subscription named %q", name)
	}
	state.cancel()
	<-state.done
	state.cancel = nil
	return nil
}

func (r *scenarioRun) checkWatch(s step) error {
	name, err := s.requireStr("name")
	if err != nil {
		return invalid("%v", err)
	}
	rawKeys, ok := s["keys"].([]any)
	if !ok {
		return invalid("field \"keys\" must be a list")
	}
	state := r.watches[name]
	if state == nil {
		return invalid("no subscription named %q", name)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if state.err != nil {
		return fmt.Errorf("subscription %q failed: %v", name, state.err)
	}
	var seenKeys, described []string
	var last int64 = -1
	for _, completion := range state.seen {
		if completion.Sequence <= last {
			return fmt.Errorf("subscription %q delivered sequence %d after %d", name, completion.Sequence, last)
		}
		last = completion.Sequence
		key, ok := r.keys[completion.WorkID]
		if !ok {
			key = "id:" + completion.WorkID
		}
		seenKeys = append(seenKeys, key)
		described = append(described, fmt.Sprintf("%s (sequence %d)", key, completion.Sequence))
	}
	if len(seenKeys) != len(rawKeys) {
		return fmt.Errorf("subscription %q saw %s, expected %s", name, joinQuoted(described), describe(rawKeys))
	}
	for i, key := range rawKeys {
		if seenKeys[i] != key {
			return fmt.Errorf("subscription %q saw %s, expected %s", name, joinQuoted(described), describe(rawKeys))
		}
	}
	return nil
}
