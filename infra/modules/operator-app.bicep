// The Entra app that App Service authentication signs operators in with, in
// front of the status page (app-auth settings in app.bicep): single-tenant
// (the source tenant, where azd runs), one app role "tenantsync.operator",
// and user assignment required on its service principal, so that only the
// users and groups given the role can sign in at all. The status page checks
// the role again (internal/statuspage RequireOperator, which holds the same
// value as OperatorRole; internal/devtools/deploycheck compares them).
//
// No client secret: App Service authentication uses the OpenID Connect
// implicit flow for the ID token when none is configured ("If no client
// secret is configured, the OpenID Connect implicit auth flow is used",
// SiteAuthSettings.clientSecret in the Microsoft.Web API reference), which
// needs ID token issuance on the app (web.implicitGrantSettings).
// https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad
//
// Microsoft Graph Bicep extension, as graph-app.bicep (alias in
// infra/bicepconfig.json). App roles: applications.appRoles, assignment
// requirement: servicePrincipals.appRoleAssignmentRequired, role grants:
// appRoleAssignedTo, all in the v1.0 resource reference:
// https://learn.microsoft.com/graph/templates/bicep/reference/applications?view=graph-bicep-1.0
// https://learn.microsoft.com/graph/templates/bicep/reference/serviceprincipals?view=graph-bicep-1.0
extension microsoftGraphV1

@description('Tenant-wide unique name of the application (the extension\'s key for it).')
param uniqueName string

@description('Display name shown at sign-in and in Enterprise applications.')
param displayName string

@description('Redirect URI of App Service authentication: https://<app host>/.auth/login/aad/callback.')
param redirectUri string

@description('Object ids of the users or groups given the operator role; more can be assigned later in Enterprise applications.')
param operatorPrincipalIds string[] = []

// The operator role's value; statuspage.OperatorRole in the code.
var operatorRoleValue = 'tenantsync.operator'
// A stable id for the role, derived from the app's unique name.
var operatorRoleId = guid(uniqueName, operatorRoleValue)

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: [
      redirectUri
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: true
      enableAccessTokenIssuance: false
    }
  }
  appRoles: [
    {
      id: operatorRoleId
      value: operatorRoleValue
      displayName: 'tenantsync operator'
      description: 'Sees the tenantsync status page: health, sync state and the provisioning log (attribute names, not values).'
      // "User" covers users and groups.
      allowedMemberTypes: [
        'User'
      ]
      isEnabled: true
    }
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
  // Only users and groups assigned a role can sign in to this app.
  appRoleAssignmentRequired: true
}

// The assignments reference the service principal created just above; on a
// first deployment Entra may not have replicated it yet (docs/deploy.md,
// "If the first run fails").
resource operators 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for id in operatorPrincipalIds: {
    principalId: id
    resourceId: servicePrincipal.id
    appRoleId: operatorRoleId
  }
]

@description('Application (client) id: the App Service authentication registration and TENANTSYNC_OPERATOR_APP_CLIENT_ID.')
output clientId string = app.appId

@description('The app role value the status page requires.')
output operatorRole string = operatorRoleValue
