// A user-assigned managed identity. main.bicep makes three, one per power
// (docs/security.md):
// - the runtime identity: the Functions host (AzureWebJobsStorage, Service
//   Bus trigger, Application Insights) and the handler's own calls (Table
//   Storage, Service Bus, the function key);
// - the Graph identity: only the subject of the Graph app's federated
//   credential, with no Azure role at all;
// - the deployment identity: only the Flex Consumption deployment
//   container, with a role scoped to that container.
//
// AVM user-assigned-identity 0.4.1, as pinned by the Azure Functions azd
// quickstarts; parameters name, location, tags; outputs resourceId,
// principalId, clientId, name:
// https://github.com/Azure/bicep-registry-modules/tree/main/avm/res/managed-identity/user-assigned-identity
// https://github.com/Azure-Samples/functions-quickstart-dotnet-azd/blob/main/infra/main.bicep

@description('Name of the identity.')
param name string

@description('Region of the identity.')
param location string

@description('Tags of the identity.')
param tags object

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  // The nested deployment's name is per identity: three instances of this
  // module deploy into one resource group, where deployment names are unique.
  name: take('user-assigned-identity-${name}', 64)
  params: {
    name: name
    location: location
    tags: tags
  }
}

@description('Resource id of the identity.')
output resourceId string = identity.outputs.resourceId

@description('Object (principal) id of the identity: role assignments and the federated credential subject.')
output principalId string = identity.outputs.principalId

@description('Client id of the identity: AZURE_CLIENT_ID and the __clientId connection settings, or TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID.')
output clientId string = identity.outputs.clientId
