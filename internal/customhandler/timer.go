package customhandler

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Timer is the value of a timerTrigger binding.
type Timer struct {
	// Schedule describes the schedule; the host sends only AdjustForDST.
	Schedule Schedule
	// ScheduleStatus is the schedule monitor's record, nil when the host
	// sends none (useMonitor false).
	ScheduleStatus *ScheduleStatus
	// IsPastDue is true when this run starts later than it was due, for
	// example after the app was down or scaled to zero past a due time.
	IsPastDue bool
}

// Schedule is the schedule part of a Timer.
type Schedule struct {
	AdjustForDST bool
}

// ScheduleStatus is the schedule monitor's record of a timer.
type ScheduleStatus struct {
	// Last is the previous run, zero before the first one.
	Last time.Time
	// Next is when this run was due.
	Next time.Time
	// LastUpdated is when the record was last written.
	LastUpdated time.Time
}

// wireTimer is the host's encoding of a Timer (Newtonsoft's rendering of
// the extension's TimerInfo).
type wireTimer struct {
	Schedule       Schedule        `json:"Schedule"`
	ScheduleStatus *wireTimerState `json:"ScheduleStatus"`
	IsPastDue      bool            `json:"IsPastDue"`
}

type wireTimerState struct {
	Last        string `json:"Last"`
	Next        string `json:"Next"`
	LastUpdated string `json:"LastUpdated"`
}

// TimerInfo decodes the value of the invocation's timerTrigger binding
// named bindingName. Errors are *FieldError values naming the field.
func TimerInfo(inv *Invocation, bindingName string) (Timer, error) {
	raw, err := bindingValue(inv, bindingName)
	if err != nil {
		return Timer{}, err
	}
	field := "Data." + bindingName
	if raw, err = unwrapObject(raw); err != nil {
		return Timer{}, &FieldError{Field: field, Err: err}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Timer{}, &FieldError{Field: field, Err: errors.New("want an object")}
	}
	var w wireTimer
	if err := json.Unmarshal(raw, &w); err != nil {
		return Timer{}, &FieldError{Field: field, Err: err}
	}
	t := Timer{Schedule: w.Schedule, IsPastDue: w.IsPastDue}
	if w.ScheduleStatus != nil {
		st := &ScheduleStatus{}
		times := []struct {
			dst  *time.Time
			src  string
			name string
		}{
			{&st.Last, w.ScheduleStatus.Last, "Last"},
			{&st.Next, w.ScheduleStatus.Next, "Next"},
			{&st.LastUpdated, w.ScheduleStatus.LastUpdated, "LastUpdated"},
		}
		for _, f := range times {
			if f.src == "" {
				continue
			}
			if *f.dst, err = parseHostTime(f.src); err != nil {
				return Timer{}, &FieldError{Field: field + ".ScheduleStatus." + f.name, Err: err}
			}
		}
		t.ScheduleStatus = st
	}
	return t, nil
}

// NewTimerInvocation builds the invocation the host would send for t to the
// function's timerTrigger binding named bindingName. It lets an in-process
// runner call the same handlers as the host does.
func NewTimerInvocation(function, bindingName string, t Timer, opts *InvocationOptions) (*Invocation, error) {
	o, sys, err := sysMetadata(function, opts)
	if err != nil {
		return nil, fmt.Errorf("build timer invocation: %w", err)
	}
	w := wireTimer{Schedule: t.Schedule, IsPastDue: t.IsPastDue}
	if st := t.ScheduleStatus; st != nil {
		w.ScheduleStatus = &wireTimerState{
			Last:        formatDateTimeOffset(st.Last),
			Next:        formatDateTimeOffset(st.Next),
			LastUpdated: formatDateTimeOffset(st.LastUpdated),
		}
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("build timer invocation: %w", err)
	}
	return &Invocation{
		Function: function,
		ID:       o.ID,
		Data:     map[string]json.RawMessage{bindingName: raw},
		Metadata: map[string]json.RawMessage{"sys": sys},
	}, nil
}
