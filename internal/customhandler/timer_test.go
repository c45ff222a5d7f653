package customhandler

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestTimerInfoFixtures(t *testing.T) {
	tests := []struct {
		file     string
		function string
		want     Timer
		wantSys  Sys
	}{
		{
			file:     "timer-on-schedule.json",
			function: "Reconcile",
			want: Timer{
				Schedule: Schedule{AdjustForDST: true},
				ScheduleStatus: &ScheduleStatus{
					Last:        time.Time{},
					Next:        time.Date(2026, 3, 2, 9, 45, 0, 0, time.UTC),
					LastUpdated: time.Date(2026, 3, 2, 9, 31, 7, 403838000, time.UTC),
				},
				IsPastDue: false,
			},
			wantSys: Sys{MethodName: "Reconcile", UtcNow: time.Date(2026, 3, 2, 9, 45, 0, 12487100, time.UTC), RandGuid: "7a1c3e5b-9d2f-4b6a-8e0c-2f4d6b8a0c1e"},
		},
		{
			file:     "timer-past-due.json",
			function: "SubscriptionManager",
			want: Timer{
				Schedule: Schedule{AdjustForDST: true},
				ScheduleStatus: &ScheduleStatus{
					Last:        time.Date(2026, 3, 1, 18, 0, 0, 9603500, time.UTC),
					Next:        time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
					LastUpdated: time.Date(2026, 3, 1, 18, 0, 0, 9603500, time.UTC),
				},
				IsPastDue: true,
			},
			wantSys: Sys{MethodName: "SubscriptionManager", UtcNow: time.Date(2026, 3, 2, 7, 12, 44, 903115200, time.UTC), RandGuid: "3f5a7c9e-1b2d-4e6f-a8c0-9d1b3f5a7c9e"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inv := readInvocation(t, tc.file, tc.function)
			got, err := TimerInfo(inv, "timer")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("timer = %+v %+v, want %+v %+v", got, got.ScheduleStatus, tc.want, tc.want.ScheduleStatus)
			}
			sys, err := inv.Sys()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sys, tc.wantSys) {
				t.Errorf("sys = %+v, want %+v", sys, tc.wantSys)
			}
		})
	}
}

func TestTimerInfoVariants(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Timer
	}{
		{
			name:    "no schedule status",
			payload: `{"Data":{"timer":{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":true}}}`,
			want:    Timer{IsPastDue: true},
		},
		{
			name:    "lower-case names, as other workers render them",
			payload: `{"Data":{"timer":{"schedule":{"adjustForDST":true},"scheduleStatus":{"last":"2016-10-04T10:15:00+00:00","next":"2016-10-04T10:20:00+00:00","lastUpdated":"2016-10-04T10:16:00+00:00"},"isPastDue":false}}}`,
			want: Timer{Schedule: Schedule{AdjustForDST: true}, ScheduleStatus: &ScheduleStatus{
				Last:        time.Date(2016, 10, 4, 10, 15, 0, 0, time.UTC),
				Next:        time.Date(2016, 10, 4, 10, 20, 0, 0, time.UTC),
				LastUpdated: time.Date(2016, 10, 4, 10, 16, 0, 0, time.UTC),
			}},
		},
		{
			name:    "object serialised once more",
			payload: `{"Data":{"timer":"{\"Schedule\":{\"AdjustForDST\":true},\"IsPastDue\":true}"}}`,
			want:    Timer{Schedule: Schedule{AdjustForDST: true}, IsPastDue: true},
		},
		{
			name:    "offset times in UTC",
			payload: `{"Data":{"timer":{"ScheduleStatus":{"Next":"2022-03-28T15:45:00-05:00"}}}}`,
			want:    Timer{ScheduleStatus: &ScheduleStatus{Next: time.Date(2022, 3, 28, 20, 45, 0, 0, time.UTC)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TimerInfo(invocationFrom(t, tc.payload), "timer")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("timer = %+v %+v, want %+v %+v", got, got.ScheduleStatus, tc.want, tc.want.ScheduleStatus)
			}
		})
	}
}

func TestTimerInfoErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		field   string
	}{
		{"missing", `{"Data":{}}`, "Data.timer"},
		{"array", `{"Data":{"timer":[]}}`, "Data.timer"},
		{"string not holding an object", `{"Data":{"timer":"\"soon\""}}`, "Data.timer"},
		{"IsPastDue not a bool", `{"Data":{"timer":{"IsPastDue":"yes"}}}`, "Data.timer"},
		{"bad Next", `{"Data":{"timer":{"ScheduleStatus":{"Next":"tomorrow"}}}}`, "Data.timer.ScheduleStatus.Next"},
		{"bad Last", `{"Data":{"timer":{"ScheduleStatus":{"Last":"2026-13-01T00:00:00"}}}}`, "Data.timer.ScheduleStatus.Last"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TimerInfo(invocationFrom(t, tc.payload), "timer")
			wantFieldError(t, err, tc.field)
		})
	}
}

func TestNewTimerInvocation(t *testing.T) {
	fixture := readInvocation(t, "timer-on-schedule.json", "Reconcile")
	tm, err := TimerInfo(fixture, "timer")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := fixture.Sys()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := NewTimerInvocation("Reconcile", "timer", tm, &InvocationOptions{Now: sys.UtcNow, RandGuid: sys.RandGuid})
	if err != nil {
		t.Fatal(err)
	}
	wire, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var back Invocation
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	got, err := TimerInfo(&back, "timer")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tm) {
		t.Errorf("round trip = %+v %+v, want %+v %+v", got, got.ScheduleStatus, tm, tm.ScheduleStatus)
	}
	// The host writes a never-run Last as .NET's DateTime.MinValue.
	var data struct{ ScheduleStatus struct{ Last string } }
	if err := json.Unmarshal(back.Data["timer"], &data); err != nil {
		t.Fatal(err)
	}
	if data.ScheduleStatus.Last != "0001-01-01T00:00:00" {
		t.Errorf("Last encoded as %q", data.ScheduleStatus.Last)
	}
	if !jsonEqual(t, back.Metadata["sys"], fixture.Metadata["sys"]) {
		t.Errorf("sys = %s, fixture has %s", back.Metadata["sys"], fixture.Metadata["sys"])
	}
	nostatus, err := NewTimerInvocation("F", "t", Timer{IsPastDue: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := TimerInfo(nostatus, "t"); err != nil || got.ScheduleStatus != nil || !got.IsPastDue {
		t.Errorf("timer without status = %+v, %v", got, err)
	}
}
