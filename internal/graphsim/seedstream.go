package graphsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// LoadSeedJSON loads a seed file, adding its tenants as LoadSeed does. It
// streams: each user and group is converted as it is read, so a seed of
// 100,000 users is never held in memory as JSON objects.
func (s *Server) LoadSeedJSON(r io.Reader) error {
	tenants, err := s.decodeSeedStream(r, false)
	if err != nil {
		return fmt.Errorf("load seed: %w", err)
	}
	for _, t := range tenants {
		s.putTenant(t)
		t.startSubscriptions()
	}
	return nil
}

// decodeSeedStream reads {"tenants":[…]}; a state file also has "version"
// and "clockOffset", which set the clock.
func (s *Server) decodeSeedStream(r io.Reader, state bool) ([]*tenant, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var tenants []*tenant
	version := 0
	err := readObject(dec, func(key string) error {
		switch {
		case key == "tenants":
			return readArray(dec, func(i int) error {
				t, err := s.decodeTenant(dec)
				if err != nil {
					return fmt.Errorf("tenant %d: %w", i, err)
				}
				tenants = append(tenants, t)
				return nil
			})
		case state && key == "version":
			return dec.Decode(&version)
		case state && key == "clockOffset":
			var off string
			if err := dec.Decode(&off); err != nil {
				return err
			}
			d, err := time.ParseDuration(off)
			if err != nil {
				return fmt.Errorf("clockOffset: %w", err)
			}
			s.clock.setOffset(d)
			return nil
		}
		return fmt.Errorf("unknown field %q", key)
	})
	if err != nil {
		return nil, err
	}
	if state && version != stateVersion {
		return nil, fmt.Errorf("state version %d, want %d", version, stateVersion)
	}
	return tenants, nil
}

// decodeTenant reads one tenant object, converting users and groups one by
// one.
func (s *Server) decodeTenant(dec *json.Decoder) (*tenant, error) {
	b := newTenantBuilder(s)
	objects := func(add func(int, Object, bool) error, deleted bool) error {
		return readArray(dec, func(i int) error {
			var o Object
			if err := dec.Decode(&o); err != nil {
				return err
			}
			return add(i, o, deleted)
		})
	}
	err := readObject(dec, func(key string) error {
		m := &b.meta
		switch key {
		case "id":
			return dec.Decode(&m.ID)
		case "domain":
			return dec.Decode(&m.Domain)
		case "displayName":
			return dec.Decode(&m.DisplayName)
		case "initialDomain":
			return dec.Decode(&m.InitialDomain)
		case "blockInvitations":
			return dec.Decode(&m.BlockInvitations)
		case "permissions":
			return dec.Decode(&m.Permissions)
		case "replicationLag":
			return dec.Decode(&m.ReplicationLag)
		case "advancedLag":
			return dec.Decode(&m.AdvancedLag)
		case "lagSeed":
			return dec.Decode(&m.LagSeed)
		case "sequence":
			return dec.Decode(&m.Sequence)
		case "subscriptions":
			return dec.Decode(&m.Subscriptions)
		case "users":
			return objects(b.addUser, false)
		case "deletedUsers":
			return objects(b.addUser, true)
		case "groups":
			return objects(b.addGroup, false)
		case "deletedGroups":
			return objects(b.addGroup, true)
		}
		return fmt.Errorf("unknown field %q", key)
	})
	if err != nil {
		return nil, err
	}
	return b.finish()
}

// readObject calls fn with the decoder positioned at each member's value.
func readObject(dec *json.Decoder, fn func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want an object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if err := fn(key); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	_, err = dec.Token()
	return err
}

// readArray calls fn with the decoder positioned at each element; null is
// an empty array.
func readArray(dec *json.Decoder, fn func(i int) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want an array, got %v", tok)
	}
	for i := 0; dec.More(); i++ {
		if err := fn(i); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}
