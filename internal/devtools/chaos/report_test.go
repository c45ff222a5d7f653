package chaos

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReportText(t *testing.T) {
	tests := []struct {
		name string
		rep  Report
		want []string
	}{
		{"pass", Report{Seed: 42, Pass: true, Rounds: []Round{{Operations: 300, Converged: true, Stable: true, ConvergeSeconds: 3.5}},
			Guard:  GuardReport{Target: "adatum", Threshold: 5, Bursts: 3, BurstUsers: 24, Held: 8},
			Safety: SafetyCounts{Invitations: 140, Reinvitations: 2}, ReplicationLag: map[string]string{"contoso.example": "1.2s"}},
			[]string{"PASS  (seed 42, replay with --seed 42)", "converged in 3.5 s after faults off",
				"adatum (threshold 5", "3 bursts of 24 users", "8 held at the end", "140 invitations (2 repeated", "0 duplicate invitations",
				"0 wrongful deprovisions", "0 held deprovisions carried out", "contoso.example 1.2s"}},
		{"fail", Report{Seed: 7, Rounds: []Round{{Operations: 300}},
			Differences: []Difference{{Target: "contoso", Kind: DiffMissing, UPN: "ada@fabrikam.example", Detail: "in scope, but no live target user carries its anchor"}}},
			[]string{"FAIL  (seed 7", "DID NOT CONVERGE", "differences (1)", "contoso: missing (ada@fabrikam.example): in scope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := tt.rep.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report text lacks %q:\n%s", w, b.String())
				}
			}
			// The JSON form carries the same verdict and seed.
			data, err := json.Marshal(tt.rep)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Seed uint64 `json:"seed"`
				Pass bool   `json:"pass"`
			}
			if err := json.Unmarshal(data, &back); err != nil || back.Seed != tt.rep.Seed || back.Pass != tt.rep.Pass {
				t.Errorf("JSON %s: seed %d pass %v (%v)", data, back.Seed, back.Pass, err)
			}
		})
	}
}
