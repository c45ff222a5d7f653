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

@description('Principal id of the managed identity of the function app.')
param identityPrincipalId string

@description('Object id of a person who runs operator commands against the tables; empty for none.')
param userPrincipalId string = ''

// The state tables, as internal/store/tablestore names them: the default
// prefix and each table (internal/deploycheck holds this list to the code's).
var stateTables = [
  'tenantsyncwatermarks'
  'tenantsynclinks'
  'tenantsyncsubscriptions'
  'tenantsyncdeletions'
  'tenantsyncevents'
  'tenantsyncstatus'
]

// Built-in roles:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host storage and deployment container with identity
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // tenantsync state

var identityRoles = [
  {
    roleDefinitionIdOrName: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'tenantsync: Functions host storage and the deployment container'
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
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        {
          name: deploymentContainerName
          publicAccess: 'None'
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
