// The multi-tenant Entra application tenantsync signs in as, in the source
// tenant and (after admin consent) in every target tenant, without a secret:
// its federated identity credential trusts tokens of the function app's
// user-assigned managed identity (the "managed identity as a federated
// identity credential" pattern). The service principal in the source tenant
// gets the two read permissions the source needs; the target permissions are
// granted by each target's administrator through the consent URL that the
// postprovision hook prints.
//
// Microsoft Graph Bicep extension, dynamic types; the alias microsoftGraphV1
// is defined in infra/bicepconfig.json as
// br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0, the GA
// release (July 2025, needs Bicep 0.36.1 or later):
// https://learn.microsoft.com/graph/templates/bicep/whats-new
// https://learn.microsoft.com/graph/templates/how-to-dynamic-types
// Resource shapes follow the extension's quickstart msi-as-a-fic-secretless:
// https://github.com/microsoftgraph/msgraph-bicep-types/blob/main/quickstart-templates/msi-as-a-fic-secretless/main.bicep
extension microsoftGraphV1

@description('Tenant-wide unique name of the application (the extension\'s key for it).')
param uniqueName string

@description('Display name shown on the consent screen and in Enterprise applications.')
param displayName string

@description('Object (principal) id of the managed identity the federated credential trusts.')
param identityPrincipalId string

@description('Redirect URI registered for the admin-consent flow.')
param redirectUri string

// Microsoft Graph's well-known application id.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// Application permission (app role) ids of Microsoft Graph, from the
// permissions reference: https://learn.microsoft.com/graph/permissions-reference
var graphAppRoles = {
  // Source: read users and their attributes (delta, GET /users/{id}).
  userReadAll: 'df021288-bdef-4463-88db-98f22de89214'
  // Source: read the scoping groups' members (groups delta, transitive members).
  groupMemberReadAll: '98830695-27a2-44f7-8c18-0c3ebc9698f6'
  // Target: POST /invitations (least privileged permission for it).
  userInviteAll: '09850681-111b-4a89-9bed-3f2cae46d706'
  // Target: PATCH, DELETE and restore of the B2B users; reading them to match.
  userReadWriteAll: '741f803b-c850-494e-b5df-cde7c675a1ca'
}

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  // Multi-tenant: the app gets a service principal in each target tenant
  // whose administrator consents.
  signInAudience: 'AzureADMultipleOrgs'
  web: {
    redirectUris: [
      redirectUri
    ]
  }
  // The static permissions a target administrator consents to through
  // /adminconsent. All four are listed: consent grants every required
  // permission, so the targets also get the two read permissions (harmless:
  // User.ReadWrite.All already includes reading users). The source tenant is
  // granted only the read permissions, below, never the write ones.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        {
          id: graphAppRoles.userReadAll
          type: 'Role'
        }
        {
          id: graphAppRoles.groupMemberReadAll
          type: 'Role'
        }
        {
          id: graphAppRoles.userInviteAll
          type: 'Role'
        }
        {
          id: graphAppRoles.userReadWriteAll
          type: 'Role'
        }
      ]
    }
  ]
}

// Trust the managed identity: its token (audience api://AzureADTokenExchange)
// is the client assertion for this app. Issuer and subject as documented in
// "Configure an application to trust a managed identity":
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity
// environment().authentication.loginEndpoint is https://login.microsoftonline.com/
// in the public cloud. Child resources of the extension are named
// '<parent uniqueName>/<name>'.
resource managedIdentityCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${app.uniqueName}/tenantsync-managed-identity'
  description: 'The tenantsync function app\'s user-assigned managed identity'
  issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
  subject: identityPrincipalId
  audiences: [
    'api://AzureADTokenExchange'
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Admin consent in the source tenant for the read permissions only.
resource sourceUserReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles.userReadAll
}

resource sourceGroupMemberReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles.groupMemberReadAll
}

@description('Application (client) id: auth.clientId in tenantsync.yaml and the client_id of the consent URL.')
output clientId string = app.appId

@description('Object id of the application.')
output objectId string = app.id

@description('Object id of the service principal in the source tenant.')
output servicePrincipalId string = servicePrincipal.id
