package graphsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxSubscriptionLifetime is the longest lifetime Graph allows for
// subscriptions to users and groups.
const maxSubscriptionLifetime = 41760 * time.Minute

// maxSubscriptions is the subscription quota per app and tenant.
const maxSubscriptions = 100

// subscription is a change notification subscription and its delivery
// queue.
type subscription struct {
	t        *tenant
	id       string
	resource string
	// what the resource names: users or groups, one object (objID), or a
	// group's members.
	kind        objKind
	objID       string
	membersOnly bool
	changeTypes string
	notifyURL   string
	lifecycle   string
	clientState string
	tls         string

	mu      sync.Mutex
	expires time.Time
	pending []notification
	held    []notification // held back by the reorder fault
	wake    chan struct{}
	stop    chan struct{}
	stopped bool
}

type notification struct {
	changeType string
	kind       objKind
	id         string
	members    []memberDelta
}

// SubscriptionSeed is a subscription in a snapshot or state file.
type SubscriptionSeed struct {
	ID                        string    `json:"id"`
	Resource                  string    `json:"resource"`
	ChangeType                string    `json:"changeType"`
	NotificationURL           string    `json:"notificationUrl"`
	LifecycleNotificationURL  string    `json:"lifecycleNotificationUrl,omitempty"`
	ClientState               string    `json:"clientState,omitempty"`
	ExpirationDateTime        time.Time `json:"expirationDateTime"`
	LatestSupportedTLSVersion string    `json:"latestSupportedTlsVersion,omitempty"`
}

func (sub *subscription) seed() SubscriptionSeed {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return SubscriptionSeed{ID: sub.id, Resource: sub.resource, ChangeType: sub.changeTypes,
		NotificationURL: sub.notifyURL, LifecycleNotificationURL: sub.lifecycle, ClientState: sub.clientState,
		ExpirationDateTime: sub.expires, LatestSupportedTLSVersion: sub.tls}
}

// parseResource reads a subscription resource: users, users/{id}, groups,
// groups/{id}, groups/{id}/members.
func parseResource(resource string) (kind objKind, id string, members bool, ok bool) {
	r := strings.Trim(resource, "/")
	parts := strings.Split(r, "/")
	switch strings.ToLower(parts[0]) {
	case "users":
		kind = objUser
	case "groups":
		kind = objGroup
	default:
		return 0, "", false, false
	}
	switch len(parts) {
	case 1:
		return kind, "", false, true
	case 2:
		return kind, strings.ToLower(parts[1]), false, isGUID(parts[1])
	case 3:
		return kind, strings.ToLower(parts[1]), true, kind == objGroup && strings.EqualFold(parts[2], "members") && isGUID(parts[1])
	}
	return 0, "", false, false
}

// checkNotificationURL accepts https, and http on a loopback host.
func checkNotificationURL(raw, field string) *graphError {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return newError(http.StatusBadRequest, "InvalidRequest", "Invalid %s '%s'.", field, raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if u.Scheme == "http" {
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return newError(http.StatusBadRequest, "InvalidRequest",
		"The %s must use https (the simulator also accepts http on a loopback host).", field)
}

func (sub *subscription) matches(ev event) bool {
	if ev.kind != sub.kind || sub.objID != "" && ev.id != sub.objID {
		return false
	}
	if sub.membersOnly && len(ev.members) == 0 {
		return false
	}
	for _, ct := range strings.Split(sub.changeTypes, ",") {
		if strings.TrimSpace(ct) == ev.changeType {
			return true
		}
	}
	return false
}

// subscriptionBody is the body of POST and PATCH /subscriptions.
type subscriptionBody struct {
	ChangeType                string     `json:"changeType"`
	NotificationURL           string     `json:"notificationUrl"`
	LifecycleNotificationURL  string     `json:"lifecycleNotificationUrl"`
	Resource                  string     `json:"resource"`
	ExpirationDateTime        *time.Time `json:"expirationDateTime"`
	ClientState               string     `json:"clientState"`
	LatestSupportedTLSVersion string     `json:"latestSupportedTlsVersion"`
	IncludeResourceData       bool       `json:"includeResourceData"`
}

func checkExpiration(exp *time.Time, now time.Time) *graphError {
	if exp == nil {
		return newError(http.StatusBadRequest, "InvalidRequest", "expirationDateTime is required.")
	}
	if !exp.After(now) {
		return newError(http.StatusBadRequest, "InvalidRequest", "Subscription expiration must be in the future.")
	}
	if exp.Sub(now) > maxSubscriptionLifetime {
		return newError(http.StatusBadRequest, "InvalidRequest",
			"Subscription expiration can only be %d minutes in the future.", int(maxSubscriptionLifetime.Minutes()))
	}
	return nil
}

func createSubscription(s *Server, rq *request) *response {
	var body subscriptionBody
	if len(rq.body) == 0 || json.Unmarshal(rq.body, &body) != nil {
		return errorResponse(errMalformedJSON())
	}
	if body.ChangeType == "" || body.NotificationURL == "" || body.Resource == "" {
		return errorResponse(newError(http.StatusBadRequest, "InvalidRequest",
			"changeType, notificationUrl, resource and expirationDateTime are required."))
	}
	kind, objID, members, ok := parseResource(body.Resource)
	if !ok {
		return errorResponse(newError(http.StatusBadRequest, "InvalidRequest",
			"Resource '%s' is not supported: use users, users/{id}, groups, groups/{id} or groups/{id}/members.", body.Resource))
	}
	var types []string
	for _, ct := range strings.Split(body.ChangeType, ",") {
		ct = strings.TrimSpace(ct)
		switch ct {
		case "updated", "deleted":
			types = append(types, ct)
		case "created":
			return errorResponse(newError(http.StatusBadRequest, "ExtensionError",
				"Operation: Create; Exception: [Status Code: BadRequest; Reason: The 'created' change type is not supported for resource '%s'.]", body.Resource))
		default:
			return errorResponse(newError(http.StatusBadRequest, "InvalidRequest", "Invalid changeType '%s'.", ct))
		}
	}
	if body.IncludeResourceData {
		return errorResponse(newError(http.StatusBadRequest, "ExtensionError",
			"Operation: Create; Exception: [Status Code: BadRequest; Reason: Rich notifications are not supported for resource '%s'.]", body.Resource))
	}
	if len(body.ClientState) > 128 {
		return errorResponse(newError(http.StatusBadRequest, "InvalidRequest", "clientState must not exceed 128 characters."))
	}
	if gerr := checkNotificationURL(body.NotificationURL, "notificationUrl"); gerr != nil {
		return errorResponse(gerr)
	}
	if body.LifecycleNotificationURL != "" {
		if gerr := checkNotificationURL(body.LifecycleNotificationURL, "lifecycleNotificationUrl"); gerr != nil {
			return errorResponse(gerr)
		}
	}
	if gerr := checkExpiration(body.ExpirationDateTime, rq.now); gerr != nil {
		return errorResponse(gerr)
	}
	t := rq.t
	t.expireSubscriptions(rq.now)
	t.subsMu.Lock()
	n := len(t.subs)
	t.subsMu.Unlock()
	if n >= maxSubscriptions {
		return errorResponse(newError(http.StatusForbidden, "ExtensionError",
			"Operation: Create; Exception: [Status Code: Forbidden; Reason: The number of subscriptions for this application and tenant has reached the limit of %d.]", maxSubscriptions))
	}
	if gerr := s.validateEndpoint(rq.ctx, body.NotificationURL, rq.reqID); gerr != nil {
		return errorResponse(gerr)
	}
	if body.LifecycleNotificationURL != "" {
		if gerr := s.validateEndpoint(rq.ctx, body.LifecycleNotificationURL, rq.reqID); gerr != nil {
			return errorResponse(gerr)
		}
	}
	tls := body.LatestSupportedTLSVersion
	if tls == "" {
		tls = "v1_2"
	}
	sub := &subscription{
		t: t, id: newGUID(), resource: body.Resource, kind: kind, objID: objID, membersOnly: members,
		changeTypes: strings.Join(types, ","), notifyURL: body.NotificationURL,
		lifecycle: body.LifecycleNotificationURL, clientState: body.ClientState, tls: tls,
		expires: body.ExpirationDateTime.UTC(),
	}
	t.addSubscription(sub)
	return jsonResponse(http.StatusCreated, withContext(rq.context("subscriptions/$entity"), sub.appendJSON(nil, s)))
}

// validateEndpoint performs Graph's validation handshake: a POST with
// ?validationToken=… that must be answered 200, text/plain, with the token,
// within the validation timeout.
func (s *Server) validateEndpoint(ctx context.Context, endpoint, reqID string) *graphError {
	token := "Validation: Testing client application reachability for subscription Request-Id: " + reqID
	u, _ := url.Parse(endpoint)
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, s.opts.ValidationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return newError(http.StatusBadRequest, "ValidationError", "Subscription validation request failed: %v.", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return newError(http.StatusBadRequest, "ValidationError", "Subscription validation request timed out.")
		}
		return newError(http.StatusBadRequest, "ValidationError",
			"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return newError(http.StatusBadRequest, "ValidationError",
			"Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		return newError(http.StatusBadRequest, "ValidationError",
			"Subscription validation request failed. Response must be of type text/plain, not '%s'.", ct)
	}
	if strings.TrimRight(string(got), "\r\n") != token {
		return newError(http.StatusBadRequest, "ValidationError",
			"Subscription validation request failed. Response must exactly match validationToken query parameter.")
	}
	return nil
}

// appendJSON writes the subscription resource.
func (sub *subscription) appendJSON(b []byte, s *Server) []byte {
	sub.mu.Lock()
	exp := sub.expires
	sub.mu.Unlock()
	appID := stableGUID("tenantsync-graphsim-app")
	b = append(b, `{"id":`...)
	b = appendJSONString(b, sub.id)
	b = append(b, `,"resource":`...)
	b = appendJSONString(b, sub.resource)
	b = append(b, `,"applicationId":`...)
	b = appendJSONString(b, appID)
	b = append(b, `,"changeType":`...)
	b = appendJSONString(b, sub.changeTypes)
	b = append(b, `,"clientState":`...)
	if sub.clientState == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, sub.clientState)
	}
	b = append(b, `,"notificationUrl":`...)
	b = appendJSONString(b, sub.notifyURL)
	b = append(b, `,"notificationQueryOptions":null,"lifecycleNotificationUrl":`...)
	if sub.lifecycle == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, sub.lifecycle)
	}
	b = append(b, `,"expirationDateTime":`...)
	b = appendJSONString(b, graphTimePrecise(exp))
	b = append(b, `,"creatorId":`...)
	b = appendJSONString(b, appID)
	b = append(b, `,"includeResourceData":false,"latestSupportedTlsVersion":`...)
	b = appendJSONString(b, sub.tls)
	b = append(b, `,"encryptionCertificate":null,"encryptionCertificateId":null,"notificationUrlAppId":null}`...)
	return b
}

func (t *tenant) addSubscription(sub *subscription) {
	sub.wake = make(chan struct{}, 1)
	sub.stop = make(chan struct{})
	t.subsMu.Lock()
	t.subs[sub.id] = sub
	t.subsMu.Unlock()
	s := t.srv
	if s.closed.Load() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sub.run(s.ctx)
	}()
}

func (t *tenant) subscription(id string) *subscription {
	t.subsMu.Lock()
	defer t.subsMu.Unlock()
	return t.subs[strings.ToLower(id)]
}

// removeSubscription deletes a subscription and stops its delivery.
func (t *tenant) removeSubscription(id string) bool {
	t.subsMu.Lock()
	sub := t.subs[strings.ToLower(id)]
	delete(t.subs, strings.ToLower(id))
	t.subsMu.Unlock()
	if sub == nil {
		return false
	}
	sub.halt()
	return true
}

func (sub *subscription) halt() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.stopped {
		sub.stopped = true
		close(sub.stop)
	}
}

func (t *tenant) expireSubscriptions(now time.Time) {
	t.subsMu.Lock()
	var gone []string
	for id, sub := range t.subs {
		sub.mu.Lock()
		if !now.Before(sub.expires) {
			gone = append(gone, id)
		}
		sub.mu.Unlock()
	}
	t.subsMu.Unlock()
	for _, id := range gone {
		t.removeSubscription(id)
	}
}

// startSubscriptions starts delivery for subscriptions loaded from a seed.
func (t *tenant) startSubscriptions() {
	t.subsMu.Lock()
	subs := make([]*subscription, 0, len(t.subs))
	for _, sub := range t.subs {
		subs = append(subs, sub)
	}
	t.subsMu.Unlock()
	for _, sub := range subs {
		t.addSubscription(sub)
	}
}

func (t *tenant) stopSubscriptions() {
	t.subsMu.Lock()
	subs := t.subs
	t.subs = map[string]*subscription{}
	t.subsMu.Unlock()
	for _, sub := range subs {
		sub.halt()
	}
}

// publish hands events to the matching subscriptions.
func (t *tenant) publish(evs ...event) {
	if len(evs) == 0 {
		return
	}
	t.subsMu.Lock()
	if len(t.subs) == 0 {
		t.subsMu.Unlock()
		return
	}
	subs := make([]*subscription, 0, len(t.subs))
	for _, sub := range t.subs {
		subs = append(subs, sub)
	}
	t.subsMu.Unlock()
	now := t.srv.clock.now()
	f := t.srv.faults.Load()
	for _, sub := range subs {
		for _, ev := range evs {
			if sub.matches(ev) {
				sub.enqueue(notification{changeType: ev.changeType, kind: ev.kind, id: ev.id, members: ev.members}, f, now)
			}
		}
	}
}

// enqueue queues a notification, applying the notification faults.
func (sub *subscription) enqueue(n notification, f *faultState, now time.Time) {
	st := &sub.t.stats
	nf := f.Notifications
	sub.mu.Lock()
	if sub.stopped || !now.Before(sub.expires) {
		sub.mu.Unlock()
		return
	}
	switch {
	case nf.Drop > 0 && rand.Float64() < nf.Drop:
		st.dropped.Add(1)
	case nf.Reorder > 0 && rand.Float64() < nf.Reorder:
		st.reordered.Add(1)
		sub.held = append(sub.held, n)
	default:
		sub.pending = append(sub.pending, n)
	}
	if nf.Duplicate > 0 && rand.Float64() < nf.Duplicate {
		st.duplicated.Add(1)
		sub.held = append(sub.held, n)
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// maxNotificationsPerPost bounds one delivery.
const maxNotificationsPerPost = 100

// take removes the next batch: pending notifications, then those held
// back, so a held one arrives after notifications queued later.
func (sub *subscription) take() []notification {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	all := append(sub.pending, sub.held...)
	sub.pending, sub.held = nil, nil
	if len(all) > maxNotificationsPerPost {
		sub.pending = append(sub.pending, all[maxNotificationsPerPost:]...)
		all = all[:maxNotificationsPerPost]
	}
	return all
}

// run delivers the subscription's notifications until it is stopped.
func (sub *subscription) run(ctx context.Context) {
	s := sub.t.srv
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.stop:
			return
		case <-sub.wake:
		}
		if !sleepCtx(ctx, sub.stop, s.opts.NotificationBatchWindow) {
			return
		}
		for {
			batch := sub.take()
			if len(batch) == 0 {
				break
			}
			if !sub.deliver(ctx, batch) {
				return
			}
		}
	}
}

// sleepCtx sleeps d unless ctx ends or stop closes; it reports whether the
// full duration passed.
func sleepCtx(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// deliver posts one batch, retrying with backoff until it is acknowledged
// or NotificationRetryFor has passed. It returns false when delivery must
// stop.
func (sub *subscription) deliver(ctx context.Context, batch []notification) bool {
	s := sub.t.srv
	st := &sub.t.stats
	body := sub.payload(batch)
	backoff := s.opts.NotificationRetry
	start := time.Now()
	for attempt := 0; ; attempt++ {
		if d := s.faults.Load().Notifications.DelayMs; d > 0 {
			if !sleepCtx(ctx, sub.stop, time.Duration(d)*time.Millisecond) {
				return false
			}
		}
		if attempt > 0 {
			st.retried.Add(1)
		}
		ok := sub.post(ctx, body)
		if ok {
			st.delivered.Add(int64(len(batch)))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if time.Since(start) > s.opts.NotificationRetryFor {
			st.abandoned.Add(int64(len(batch)))
			s.log.Warn("giving up notification delivery", "subscription", sub.id, "notifications", len(batch))
			return true
		}
		if !sleepCtx(ctx, sub.stop, backoff) {
			return false
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// post sends one POST to the notification URL and reports whether it was
// acknowledged with 2xx.
func (sub *subscription) post(ctx context.Context, body []byte) bool {
	s := sub.t.srv
	st := &sub.t.stats
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.notifyURL, bytes.NewReader(body))
	if err != nil {
		st.postFailed.Add(1)
		return false
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	st.posts.Add(1)
	began := time.Now()
	resp, err := s.opts.HTTPClient.Do(req)
	took := time.Since(began)
	if took > s.opts.SlowDelivery {
		st.slow.Add(1)
	}
	if err != nil {
		st.postFailed.Add(1)
		s.log.Debug("notification delivery failed", "subscription", sub.id, "err", err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		st.postFailed.Add(1)
		s.log.Debug("notification delivery refused", "subscription", sub.id, "status", resp.StatusCode)
		return false
	}
	return true
}

// payload renders a batch of change notifications as Graph sends them.
func (sub *subscription) payload(batch []notification) []byte {
	sub.mu.Lock()
	exp := sub.expires
	sub.mu.Unlock()
	tid := sub.t.id
	b := []byte(`{"value":[`)
	for i, n := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		typ, coll := "#Microsoft.Graph.User", "Users/"
		if n.kind == objGroup {
			typ, coll = "#Microsoft.Graph.Group", "Groups/"
		}
		b = append(b, `{"subscriptionId":`...)
		b = appendJSONString(b, sub.id)
		b = append(b, `,"subscriptionExpirationDateTime":`...)
		b = appendJSONString(b, graphTimePrecise(exp))
		b = append(b, `,"changeType":`...)
		b = appendJSONString(b, n.changeType)
		b = append(b, `,"resource":`...)
		b = appendJSONString(b, coll+n.id)
		b = append(b, `,"resourceData":{"@odata.type":`...)
		b = appendJSONString(b, typ)
		b = append(b, `,"@odata.id":`...)
		b = appendJSONString(b, coll+n.id)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, n.id)
		b = append(b, `,"organizationId":`...)
		b = appendJSONString(b, tid)
		if len(n.members) > 0 {
			b = append(b, `,"members@delta":[`...)
			for j, m := range n.members {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = appendJSONString(b, m.id)
				if m.removed {
					b = append(b, `,"@removed":{"reason":"deleted"}`...)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
		if sub.clientState != "" {
			b = append(b, `,"clientState":`...)
			b = appendJSONString(b, sub.clientState)
		}
		b = append(b, `,"tenantId":`...)
		b = appendJSONString(b, tid)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// RequireReauthorization sends a reauthorizationRequired lifecycle
// notification for a subscription to its lifecycleNotificationUrl, as Graph
// does before access lapses, and returns the listener's HTTP status.
func (s *Server) RequireReauthorization(ctx context.Context, subscriptionID string) (int, error) {
	sub := s.findSubscription(subscriptionID)
	if sub == nil {
		return 0, fmt.Errorf("reauthorization of subscription %s: not found", subscriptionID)
	}
	if sub.lifecycle == "" {
		return 0, fmt.Errorf("reauthorization of subscription %s: it has no lifecycleNotificationUrl", subscriptionID)
	}
	sub.mu.Lock()
	exp := sub.expires
	sub.mu.Unlock()
	b := []byte(`{"value":[{"subscriptionId":`)
	b = appendJSONString(b, sub.id)
	b = append(b, `,"subscriptionExpirationDateTime":`...)
	b = appendJSONString(b, graphTimePrecise(exp))
	b = append(b, `,"tenantId":`...)
	b = appendJSONString(b, sub.t.id)
	if sub.clientState != "" {
		b = append(b, `,"clientState":`...)
		b = appendJSONString(b, sub.clientState)
	}
	b = append(b, `,"lifecycleEvent":"reauthorizationRequired"}]}`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.lifecycle, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("reauthorization of subscription %s: %w", subscriptionID, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	sub.t.stats.lifecycle.Add(1)
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reauthorization of subscription %s: post lifecycle notification: %w", subscriptionID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// RemoveSubscription makes a subscription vanish without any notification,
// as when Graph drops it; it reports whether it existed.
func (s *Server) RemoveSubscription(subscriptionID string) bool {
	for _, t := range s.tenantList() {
		if t.removeSubscription(subscriptionID) {
			return true
		}
	}
	return false
}

// Subscriptions returns every tenant's subscriptions, by tenant domain.
func (s *Server) Subscriptions() map[string][]SubscriptionSeed {
	out := map[string][]SubscriptionSeed{}
	for _, t := range s.tenantList() {
		out[t.domain] = t.subscriptionSeeds()
	}
	return out
}

func (t *tenant) subscriptionSeeds() []SubscriptionSeed {
	subs := t.sortedSubscriptions()
	out := make([]SubscriptionSeed, 0, len(subs))
	for _, sub := range subs {
		out = append(out, sub.seed())
	}
	return out
}

// sortedSubscriptions returns the tenant's subscriptions in id order.
func (t *tenant) sortedSubscriptions() []*subscription {
	t.subsMu.Lock()
	defer t.subsMu.Unlock()
	ids := sortedKeys(t.subs)
	subs := make([]*subscription, len(ids))
	for i, id := range ids {
		subs[i] = t.subs[id]
	}
	return subs
}

func (s *Server) findSubscription(id string) *subscription {
	for _, t := range s.tenantList() {
		if sub := t.subscription(id); sub != nil {
			return sub
		}
	}
	return nil
}

func errSubscriptionNotFound(id string) *graphError {
	return newError(http.StatusNotFound, "ResourceNotFound", "The object was not found: subscription '%s'.", id)
}

func listSubscriptions(s *Server, rq *request) *response {
	t := rq.t
	t.expireSubscriptions(rq.now)
	page := newListPage(rq.context("subscriptions"), -1)
	for _, sub := range t.sortedSubscriptions() {
		page.item()
		page.b = sub.appendJSON(page.b, s)
	}
	return jsonResponse(http.StatusOK, page.finish(""))
}

func getSubscription(s *Server, rq *request) *response {
	rq.t.expireSubscriptions(rq.now)
	sub := rq.t.subscription(rq.segs[1])
	if sub == nil {
		return errorResponse(errSubscriptionNotFound(rq.segs[1]))
	}
	return jsonResponse(http.StatusOK, withContext(rq.context("subscriptions/$entity"), sub.appendJSON(nil, s)))
}

func patchSubscription(s *Server, rq *request) *response {
	var body subscriptionBody
	if len(rq.body) == 0 || json.Unmarshal(rq.body, &body) != nil {
		return errorResponse(errMalformedJSON())
	}
	rq.t.expireSubscriptions(rq.now)
	sub := rq.t.subscription(rq.segs[1])
	if sub == nil {
		return errorResponse(errSubscriptionNotFound(rq.segs[1]))
	}
	if gerr := checkExpiration(body.ExpirationDateTime, rq.now); gerr != nil {
		return errorResponse(gerr)
	}
	if body.NotificationURL != "" && body.NotificationURL != sub.notifyURL {
		return errorResponse(newError(http.StatusBadRequest, "InvalidRequest",
			"The simulator renews subscriptions: only expirationDateTime can be changed."))
	}
	sub.mu.Lock()
	sub.expires = body.ExpirationDateTime.UTC()
	sub.mu.Unlock()
	return jsonResponse(http.StatusOK, withContext(rq.context("subscriptions/$entity"), sub.appendJSON(nil, s)))
}

func deleteSubscription(s *Server, rq *request) *response {
	if !rq.t.removeSubscription(rq.segs[1]) {
		return errorResponse(errSubscriptionNotFound(rq.segs[1]))
	}
	return noContent()
}

func reauthorizeSubscription(s *Server, rq *request) *response {
	rq.t.expireSubscriptions(rq.now)
	if rq.t.subscription(rq.segs[1]) == nil {
		return errorResponse(errSubscriptionNotFound(rq.segs[1]))
	}
	return noContent()
}
