// The storage account: the Flex Consumption deployment container (blob), the
// host's AzureWebJobsStorage (blob leases of the timer triggers) and
// tenantsync's state (tables, created here: the function app only checks
// that they exist, so that a cold start never waits on creating them).
// Shared keys are disabled: everything authenticates with Entra ID.
//
// AVM storage/storage-account 0.29.0; parameters as used by the Flex
// Consumption sample that Microsoft Learn links to ("Automate resource
// deployment for your function app", Deployment container):
// name, location, tags, skuName, kind, allowBlobPublicAccess,
// allowSharedKeyAccess, minimumTlsVersion, publicNetworkAccess, networkAcls,
// blobServices.containers, tableServices, roleAssignments; outputs name,
// primaryBlobEndpoint.
// https://github.com/Azure/bicep-registry-modules/tree/main/avm/res/storage/storage-account
// https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code

@description('Name of the storage account (3-24 lowercase letters and digits).')
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags of the account.')
param tags object

@description('Blob container the Flex Consumption plan deploys the app package from.')
param deploymentContainerName string

@description('Principal id of the runtime managed identity of the function app (host storage, state tables).')
param identityPrincipalId string

@description('Principal id of the deployment identity: Storage Blob Data Contributor on the deployment container only.')
param deploymentIdentityPrincipalId string

@description('Object id of a person who runs operator commands against the tables; empty for none.')
param userPrincipalId string = ''

@description('IPv4 addresses or CIDR ranges allowed to reach the account; empty (the default) allows every network. See docs/deploy.md, Network access: the function app must be among them.')
param allowedIpRanges string[] = []

// The state tables, as internal/store/tablestore names them: the default
// prefix and each table (internal/deploycheck holds this list to the code's).
var stateTables = [
  'tenantsyncwatermarks'
  'tenantsynclinks'
  'tenantsyncsubscriptions'
  'tenantsyncdeletions'
  'tenantsyncevents'
  'tenantsyncstatus'
  'tenantsyncgrouplinks'
]

// Built-in roles:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host storage (AzureWebJobsStorage) with identity
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // the deployment container, for the deployment identity
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // tenantsync state

var identityRoles = [
  {
    roleDefinitionIdOrName: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    // "Connecting to host storage with an identity" asks for Storage Blob
    // Data Owner on the account; it covers the deployment container too.
    // https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
    description: 'tenantsync: Functions host storage (AzureWebJobsStorage)'
  }
  {
    roleDefinitionIdOrName: storageTableDataContributor
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'tenantsync: state tables'
  }
]
// principalType is left out for the person: AZURE_PRINCIPAL_ID is a service
// principal when azd runs in a pipeline.
var userRoles = empty(userPrincipalId)
  ? []
  : [
      {
        roleDefinitionIdOrName: storageTableDataContributor
        principalId: userPrincipalId
        description: 'tenantsync: operator commands read and write the state tables'
      }
    ]

// IP rules of the account's network ACLs: a single address or a CIDR range.
var ipRules = [for range in allowedIpRanges: { value: range, action: 'Allow' }]

module account 'br/public:avm/res/storage/storage-account:0.29.0' = {
  name: 'storage-account'
  params: {
    name: name
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    kind: 'StorageV2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    // Every network unless ranges are given; then only those, and trusted
    // Azure services. https://learn.microsoft.com/azure/storage/common/storage-network-security
    networkAcls: {
      defaultAction: empty(allowedIpRanges) ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
      ipRules: ipRules
    }
    blobServices: {
      containers: [
        {
          name: deploymentContainerName
          publicAccess: 'None'
          // The deployment identity's one role, scoped to this container
          // (the AVM container child module's roleAssignments).
          roleAssignments: [
            {
              roleDefinitionIdOrName: storageBlobDataContributor
              principalId: deploymentIdentityPrincipalId
              principalType: 'ServicePrincipal'
              description: 'tenantsync: Flex Consumption deployment package'
            }
          ]
        }
      ]
    }
    tableServices: {
      tables: [for table in stateTables: { name: table }]
    }
    roleAssignments: concat(identityRoles, userRoles)
  }
}

@description('Name of the account.')
output name string = account.outputs.name

@description('Primary blob endpoint, with a trailing slash.')
output blobEndpoint string = account.outputs.primaryBlobEndpoint

@description('Table endpoint (TENANTSYNC_TABLES), with a trailing slash.')
output tableEndpoint string = 'https://${account.outputs.name}.table.${environment().suffixes.storage}/'
