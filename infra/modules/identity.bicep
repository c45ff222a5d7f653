// The user-assigned managed identity tenantsync uses for everything: the
// Functions host (deployment storage, AzureWebJobsStorage, Service Bus
// trigger), the handler's own calls (Table Storage, Service Bus, App Insights)
// and, through the Graph app's federated credential, Microsoft Graph.
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
  name: 'user-assigned-identity'
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

@description('Client id of the identity: AZURE_CLIENT_ID and the __clientId connection settings.')
output clientId string = identity.outputs.clientId
