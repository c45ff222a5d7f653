package graphsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The invitation manager: POST /invitations.

// invitationBody is the request body of POST /invitations.
type invitationBody struct {
	InvitedUserEmailAddress string          `json:"invitedUserEmailAddress"`
	InvitedUserDisplayName  string          `json:"invitedUserDisplayName"`
	InviteRedirectURL       string          `json:"inviteRedirectUrl"`
	InvitedUserType         string          `json:"invitedUserType"`
	SendInvitationMessage   bool            `json:"sendInvitationMessage"`
	ResetRedemption         bool            `json:"resetRedemption"`
	InvitedUserMessageInfo  json.RawMessage `json:"invitedUserMessageInfo"`
}

func invite(s *Server, rq *request) *response {
	var inv invitationBody
	if len(rq.body) == 0 || json.Unmarshal(rq.body, &inv) != nil {
		return errorResponse(errMalformedJSON())
	}
	if inv.InvitedUserEmailAddress == "" {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "The invitedUserEmailAddress property is required."))
	}
	if inv.InviteRedirectURL == "" {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "The inviteRedirectUrl property is required."))
	}
	if inv.InvitedUserType != "" && !strings.EqualFold(inv.InvitedUserType, "Guest") && !strings.EqualFold(inv.InvitedUserType, "Member") {
		return errorResponse(newError(http.StatusBadRequest, "BadRequest", "Invalid value for invitedUserType: '%s'.", inv.InvitedUserType))
	}
	t := rq.t
	u, _, gerr := t.invite(inv, rq.now)
	if gerr != nil {
		return errorResponse(gerr)
	}
	t.mu.RLock()
	status := "PendingAcceptance"
	if t.users[u.id] != nil && u.str(pExternalUserState) != "PendingAcceptance" && u.str(pCreationType) == "Invitation" {
		status = "Completed"
	}
	userType := u.str(pUserType)
	display := u.str(pDisplayName)
	uid := u.id
	t.mu.RUnlock()
	invID := newGUID()
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("invitations/$entity"))
	b = append(b, `,"id":`...)
	b = appendJSONString(b, invID)
	b = append(b, `,"inviteRedeemUrl":`...)
	b = appendJSONString(b, "https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3ftenant%3d"+
		t.id+"%26user%3d"+uid+"%26ticket%3d"+invID+"%26ver%3d2.0")
	b = append(b, `,"invitedUserDisplayName":`...)
	b = appendJSONString(b, display)
	b = append(b, `,"invitedUserType":`...)
	b = appendJSONString(b, userType)
	b = append(b, `,"invitedUserEmailAddress":`...)
	b = appendJSONString(b, inv.InvitedUserEmailAddress)
	b = append(b, `,"sendInvitationMessage":`...)
	b = strconv.AppendBool(b, inv.SendInvitationMessage)
	b = append(b, `,"resetRedemption":`...)
	b = strconv.AppendBool(b, inv.ResetRedemption)
	b = append(b, `,"inviteRedirectUrl":`...)
	b = appendJSONString(b, inv.InviteRedirectURL)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, status)
	b = append(b, `,"invitedUserMessageInfo":{"messageLanguage":null,"ccRecipients":[],"customizedMessageBody":null}`...)
	b = append(b, `,"invitedUser":{"id":`...)
	b = appendJSONString(b, uid)
	b = append(b, "}}"...)
	return jsonResponse(http.StatusCreated, b)
}
