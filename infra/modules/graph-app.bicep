// The multi-tenant Entra application tenantsync signs in as, in the source
// tenant and (after admin consent) in every target tenant, without a secret:
// its federated identity credential trusts tokens of the function app's
// user-assigned managed identity (the "managed identity as a federated
// identity credential" pattern).
//
// Least privilege, per tenant:
// - The source gets exactly User.Read.All and Group.Read.All, as direct app
//   role assignments below. Group.Read.All rather than GroupMember.Read.All:
//   subscribing to /groups change notifications needs Group.Read.All
//   (https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions),
//   and it reads group members too, so GroupMember.Read.All would add nothing.
// - Each target is asked for exactly User.Invite.All and User.ReadWrite.All:
//   they are the only permissions in requiredResourceAccess, which is what
//   /adminconsent grants ("the configured API permissions that an app requires
//   for its default consent request",
//   https://learn.microsoft.com/entra/identity-platform/troubleshoot-required-resource-access-limits).
//   User.ReadWrite.All reads users, so the targets need no read permission.
//   The source's read permissions are not listed there, so a target's
//   administrator never grants them; an app role can be assigned without
//   being listed ("Application permissions can be granted directly with app
//   role assignments, or through a consent experience",
//   https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto).
// - When the deployment provisions groups (groupProvisioning, a target with
//   groups in tenantsync.yaml), the targets are asked for Group.ReadWrite.All
//   as well, and only then: the least privileged permission that covers
//   creating, renaming, deleting and restoring groups and their members
//   (https://learn.microsoft.com/graph/api/group-update#permissions,
//   https://learn.microsoft.com/graph/api/group-delete#permissions).
// internal/deploycheck holds this file to exactly these sets.
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

@description('Whether tenantsync provisions groups into the targets: they are then also asked for Group.ReadWrite.All.')
param groupProvisioning bool = false

// Microsoft Graph's well-known application id.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// Application permission (app role) ids of Microsoft Graph, from the
// permissions reference: https://learn.microsoft.com/graph/permissions-reference
// Each key is the permission's name in lower camel case (User.Read.All is
// userReadAll); the same ids are in internal/graph's AppRoles.
var graphAppRoles = {
  // Source: read users and their attributes (delta, GET /users/{id}), and
  // subscribe to /users change notifications.
  userReadAll: 'df021288-bdef-4463-88db-98f22de89214'
  // Source: read the scoping groups and their members (groups delta,
  // transitive members, checkMemberGroups), and subscribe to /groups change
  // notifications.
  groupReadAll: '5b567255-7703-4780-807c-7be8301ae99b'
  // Target: POST /invitations (least privileged permission for it).
  userInviteAll: '09850681-111b-4a89-9bed-3f2cae46d706'
  // Target: PATCH, DELETE and restore of the B2B users; reading them to match.
  userReadWriteAll: '741f803b-c850-494e-b5df-cde7c675a1ca'
  // Target, with groupProvisioning only: the security groups tenantsync
  // creates and their members.
  groupReadWriteAll: '62a82d76-70ea-41e2-9197-370581804d09'
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
  // /adminconsent: the target permissions only. The source's read
  // permissions are assigned directly below and are not listed here, so no
  // target is granted them; the source is never granted these two.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        {
          id: graphAppRoles.userInviteAll
          type: 'Role'
        }
        {
          id: graphAppRoles.userReadWriteAll
          type: 'Role'
        }
        ...(groupProvisioning ? [
          {
            id: graphAppRoles.groupReadWriteAll
            type: 'Role'
          }
        ] : [])
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

// The source tenant's grant: the two read permissions, assigned directly
// (no consent prompt), and nothing else.
resource sourceUserReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles.userReadAll
}

resource sourceGroupReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles.groupReadAll
}

@description('Application (client) id: auth.clientId in tenantsync.yaml and the client_id of the consent URL.')
output clientId string = app.appId

@description('Object id of the application.')
output objectId string = app.id

@description('Object id of the service principal in the source tenant.')
output servicePrincipalId string = servicePrincipal.id
