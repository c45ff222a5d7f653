package customhandler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is a Service Bus message as a serviceBusTrigger invocation carries
// it: the body from Data and the properties from Metadata.
type Message struct {
	// Body is the message body as the sender wrote it.
	Body []byte
	// MessageID is the sender's message id (duplicate detection uses it).
	MessageID string
	// SessionID is the session the message belongs to on a session-enabled
	// queue.
	SessionID string
	// CorrelationID, ContentType and Subject are the sender's properties.
	CorrelationID string
	ContentType   string
	Subject       string
	// DeliveryCount counts deliveries including this one: 1 on the first.
	DeliveryCount int
	// SequenceNumber is the number Service Bus assigned to the message.
	SequenceNumber int64
	// EnqueuedTime is when Service Bus accepted the message.
	EnqueuedTime time.Time
	// ExpiresAt is when the message expires.
	ExpiresAt time.Time
	// LockToken identifies the current lock (peek-lock).
	LockToken string
	// ApplicationProperties are the sender's custom properties. Numbers are
	// json.Number.
	ApplicationProperties map[string]any
}

// ServiceBusMessage decodes the message of a serviceBusTrigger invocation
// whose binding is named bindingName.
//
// The host sends a string body JSON-encoded a second time inside Data; a
// body that is an object or array is taken as it is, and a singly encoded
// string is accepted too. Metadata that is absent stays zero; metadata that
// is malformed is an error that names the field (a *FieldError).
func ServiceBusMessage(inv *Invocation, bindingName string) (Message, error) {
	raw, err := bindingValue(inv, bindingName)
	if err != nil {
		return Message{}, err
	}
	body, err := messageBody(raw)
	if err != nil {
		return Message{}, &FieldError{Field: "Data." + bindingName, Err: err}
	}
	md := inv.Metadata
	m := Message{Body: body}
	strs := []struct {
		dst *string
		key string
	}{
		{&m.MessageID, "MessageId"},
		{&m.SessionID, "SessionId"},
		{&m.CorrelationID, "CorrelationId"},
		{&m.ContentType, "ContentType"},
		{&m.Subject, "Subject"},
		{&m.LockToken, "LockToken"},
	}
	for _, f := range strs {
		if *f.dst, err = metadataString(md, f.key); err != nil {
			return Message{}, err
		}
	}
	if m.Subject == "" {
		// Extensions before 5.x call it Label.
		if m.Subject, err = metadataString(md, "Label"); err != nil {
			return Message{}, err
		}
	}
	count, err := metadataInt(md, "DeliveryCount", 32)
	if err != nil {
		return Message{}, err
	}
	m.DeliveryCount = int(count)
	if m.SequenceNumber, err = metadataInt(md, "SequenceNumber", 64); err != nil {
		return Message{}, err
	}
	// EnqueuedTime and ExpiresAt carry an offset; the ...Utc forms, which
	// older extensions send alone, do not.
	if m.EnqueuedTime, err = firstTime(md, "EnqueuedTime", "EnqueuedTimeUtc"); err != nil {
		return Message{}, err
	}
	if m.ExpiresAt, err = firstTime(md, "ExpiresAt", "ExpiresAtUtc"); err != nil {
		return Message{}, err
	}
	if m.ApplicationProperties, err = metadataObject(md, "ApplicationProperties"); err != nil {
		return Message{}, err
	}
	if m.ApplicationProperties == nil {
		// Extensions before 5.x call it UserProperties.
		if m.ApplicationProperties, err = metadataObject(md, "UserProperties"); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

func firstTime(md map[string]json.RawMessage, keys ...string) (time.Time, error) {
	for _, k := range keys {
		t, err := metadataTime(md, k)
		if err != nil || !t.IsZero() {
			return t, err
		}
	}
	return time.Time{}, nil
}

// messageBody recovers the body bytes from the trigger value.
func messageBody(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '{', '[':
		// The body is JSON the host passed as a value; compact it so that
		// the bytes do not depend on how the payload was indented.
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case '"':
		// Usually encoded a second time, as the host does with strings.
		s, err := unwrapString(raw)
		return []byte(s), err
	}
	return nil, fmt.Errorf("want the message body as a string or JSON value, got %s", kind(raw))
}

// NewServiceBusInvocation builds the invocation the host would send for m to
// the function's serviceBusTrigger binding named bindingName, in the host's
// encoding: the body JSON-encoded twice, string metadata quoted twice,
// numbers as strings, times without fractions. It lets an in-process runner
// call the same handlers as the host does.
func NewServiceBusInvocation(function, bindingName string, m Message, opts *InvocationOptions) (*Invocation, error) {
	if !utf8.Valid(m.Body) {
		return nil, errors.New("build service bus invocation: body is not UTF-8 text")
	}
	o, sys, err := sysMetadata(function, opts)
	if err != nil {
		return nil, fmt.Errorf("build service bus invocation: %w", err)
	}
	props := m.ApplicationProperties
	if props == nil {
		props = map[string]any{}
	}
	propsJSON, err := json.Marshal(props)
	if err != nil {
		return nil, fmt.Errorf("build service bus invocation: application properties: %w", err)
	}
	md := map[string]json.RawMessage{
		"DeliveryCount":         mustMarshal(strconv.Itoa(m.DeliveryCount)),
		"SequenceNumber":        mustMarshal(strconv.FormatInt(m.SequenceNumber, 10)),
		"ApplicationProperties": propsJSON,
		"UserProperties":        propsJSON,
		"sys":                   sys,
	}
	quoted := map[string]string{
		"MessageId":     m.MessageID,
		"SessionId":     m.SessionID,
		"CorrelationId": m.CorrelationID,
		"ContentType":   m.ContentType,
		"Subject":       m.Subject,
		"Label":         m.Subject,
		"LockToken":     m.LockToken,
	}
	for k, v := range quoted {
		if v != "" {
			// The host omits null metadata and serialises the rest once
			// before encoding the payload.
			md[k] = mustMarshal(string(mustMarshal(v)))
		}
	}
	if !m.EnqueuedTime.IsZero() {
		md["EnqueuedTimeUtc"] = mustMarshal(formatDateTime(m.EnqueuedTime))
		md["EnqueuedTime"] = mustMarshal(formatDateTimeOffset(m.EnqueuedTime.UTC().Truncate(time.Second)))
	}
	if !m.ExpiresAt.IsZero() {
		md["ExpiresAtUtc"] = mustMarshal(formatDateTime(m.ExpiresAt))
		md["ExpiresAt"] = mustMarshal(formatDateTimeOffset(m.ExpiresAt.UTC().Truncate(time.Second)))
	}
	return &Invocation{
		Function: function,
		ID:       o.ID,
		Data: map[string]json.RawMessage{
			bindingName: mustMarshal(string(mustMarshal(string(m.Body)))),
		},
		Metadata: md,
	}, nil
}

// serviceBusMetadataNames are the trigger metadata names of the Service Bus
// extension 5.x (ServiceBusTriggerBindingStrategy), and "sys".
var serviceBusMetadataNames = [...]string{
	"DeliveryCount", "DeadLetterSource", "LockToken", "ExpiresAtUtc", "ExpiresAt",
	"EnqueuedTimeUtc", "EnqueuedTime", "MessageId", "ContentType", "ReplyTo",
	"SequenceNumber", "To", "Subject", "Label", "CorrelationId",
	"ApplicationProperties", "UserProperties", "SessionId", "ReplyToSessionId",
	"PartitionKey", "TransactionPartitionKey", "MessageReceiver", "MessageSession",
	"MessageActions", "SessionActions", "ReceiveActions", "Client", "sys",
}

// CheckServiceBusBody reports top-level properties of a JSON object body
// that the host would copy over trigger metadata of the same name. The host
// does this for every string trigger value that looks like a JSON object
// (Utility.ApplyBindingData), comparing names without regard to case, so a
// body property "sessionId" replaces the message's SessionId metadata. A
// body that is not a JSON object has nothing to collide.
func CheckServiceBusBody(body []byte) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return fmt.Errorf("check service bus body: %w", err)
	}
	var clash []string
	for k, v := range obj {
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			continue // the host skips arrays
		}
		for _, name := range serviceBusMetadataNames {
			if strings.EqualFold(k, name) {
				clash = append(clash, k)
			}
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return fmt.Errorf("check service bus body: properties %s would replace the trigger metadata of the same name", strings.Join(clash, ", "))
	}
	return nil
}
