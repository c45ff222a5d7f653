package graphsim

import "net/http"

// getAuthorizationPolicy answers GET /policies/authorizationPolicy, the
// singleton whose allowInvitesFrom says who may invite guests: "none" in a
// tenant seeded with blockInvitations (whose POST /invitations answers
// 403), else Graph's default "everyone". $select is ignored: the simulator
// answers the properties an invitation check reads.
func getAuthorizationPolicy(s *Server, rq *request) *response {
	allow := "everyone"
	if rq.t.blockInvitations {
		allow = "none"
	}
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, rq.context("policies/authorizationPolicy/$entity"))
	b = append(b, `,"id":"authorizationPolicy","displayName":"Authorization Policy","allowInvitesFrom":`...)
	b = appendJSONString(b, allow)
	b = append(b, '}')
	return jsonResponse(http.StatusOK, b)
}
