package graph

import (
	"context"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/subscriptions"
)

var _ subscriptions.Graph = (*Client)(nil)

// subscriptionJSON is a subscription as Graph sends it.
type subscriptionJSON struct {
	ID                       string `json:"id"`
	Resource                 string `json:"resource"`
	ChangeType               string `json:"changeType"`
	NotificationURL          string `json:"notificationUrl"`
	LifecycleNotificationURL string `json:"lifecycleNotificationUrl"`
	ClientState              string `json:"clientState"`
	ExpirationDateTime       string `json:"expirationDateTime"`
}

func (s subscriptionJSON) model(op string) (subscriptions.GraphSubscription, error) {
	out := subscriptions.GraphSubscription{
		ID: s.ID, Resource: s.Resource, ChangeType: s.ChangeType, NotificationURL: s.NotificationURL,
		LifecycleNotificationURL: s.LifecycleNotificationURL, ClientState: s.ClientState,
	}
	if s.ExpirationDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
		if err != nil {
			return out, &directory.Error{Op: op, Message: "malformed expirationDateTime " + s.ExpirationDateTime, Err: err}
		}
		out.Expiry = t
	}
	return out, nil
}

// CreateSubscription creates a change-notification subscription; Graph
// validates the notification (and lifecycle) URL before it answers.
func (c *Client) CreateSubscription(ctx context.Context, s subscriptions.GraphSubscription) (subscriptions.GraphSubscription, error) {
	op := "create subscription on " + s.Resource
	body := models.NewSubscription()
	body.SetChangeType(ptr(s.ChangeType))
	body.SetNotificationUrl(ptr(s.NotificationURL))
	if s.LifecycleNotificationURL != "" {
		body.SetLifecycleNotificationUrl(ptr(s.LifecycleNotificationURL))
	}
	body.SetResource(ptr(s.Resource))
	body.SetExpirationDateTime(ptr(s.Expiry.UTC()))
	body.SetClientState(ptr(s.ClientState))
	info, err := c.sdk.Subscriptions().ToPostRequestInformation(ctx, body, nil)
	if err != nil {
		return subscriptions.GraphSubscription{}, &directory.Error{Op: op, Err: err}
	}
	var resp subscriptionJSON
	if err := c.getJSON(ctx, op, info, &resp); err != nil {
		return subscriptions.GraphSubscription{}, err
	}
	if resp.ID == "" {
		return subscriptions.GraphSubscription{}, &directory.Error{Op: op, Message: "the response names no subscription"}
	}
	return resp.model(op)
}

// GetSubscription reads one subscription (directory.ErrNotFound once it
// expired or was deleted).
func (c *Client) GetSubscription(ctx context.Context, id string) (subscriptions.GraphSubscription, error) {
	op := "get subscription " + id
	info, err := c.sdk.Subscriptions().BySubscriptionId(id).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return subscriptions.GraphSubscription{}, &directory.Error{Op: op, Err: err}
	}
	var resp subscriptionJSON
	if err := c.getJSON(ctx, op, info, &resp); err != nil {
		return subscriptions.GraphSubscription{}, err
	}
	return resp.model(op)
}

// RenewSubscription moves a subscription's expiry.
func (c *Client) RenewSubscription(ctx context.Context, id string, expiry time.Time) (subscriptions.GraphSubscription, error) {
	op := "renew subscription " + id
	body := models.NewSubscription()
	body.SetExpirationDateTime(ptr(expiry.UTC()))
	info, err := c.sdk.Subscriptions().BySubscriptionId(id).ToPatchRequestInformation(ctx, body, nil)
	if err != nil {
		return subscriptions.GraphSubscription{}, &directory.Error{Op: op, Err: err}
	}
	var resp subscriptionJSON
	if err := c.getJSON(ctx, op, info, &resp); err != nil {
		return subscriptions.GraphSubscription{}, err
	}
	if resp.ID == "" {
		// Some answers carry no body: read it back.
		return c.GetSubscription(ctx, id)
	}
	return resp.model(op)
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	op := "delete subscription " + id
	info, err := c.sdk.Subscriptions().BySubscriptionId(id).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.send(ctx, op, info)
}

// ReauthorizeSubscription answers a reauthorizationRequired lifecycle
// notification.
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	op := "reauthorize subscription " + id
	info, err := c.sdk.Subscriptions().BySubscriptionId(id).Reauthorize().ToPostRequestInformation(ctx, nil)
	if err != nil {
		return &directory.Error{Op: op, Err: err}
	}
	return c.getJSON(ctx, op, info, nil)
}

// ListSubscriptions lists the application's subscriptions in the tenant.
func (c *Client) ListSubscriptions(ctx context.Context) ([]subscriptions.GraphSubscription, error) {
	op := "list subscriptions"
	info, err := c.sdk.Subscriptions().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, &directory.Error{Op: op, Err: err}
	}
	var out []subscriptions.GraphSubscription
	_, err = c.pages(ctx, op, info, func(p *page) error {
		for _, v := range p.Value {
			s := subscriptionJSON{
				ID: str(v["id"]), Resource: str(v["resource"]), ChangeType: str(v["changeType"]),
				NotificationURL: str(v["notificationUrl"]), LifecycleNotificationURL: str(v["lifecycleNotificationUrl"]),
				ClientState: str(v["clientState"]), ExpirationDateTime: str(v["expirationDateTime"]),
			}
			m, err := s.model(op)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
