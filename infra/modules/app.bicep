// The Flex Consumption plan and the function app: a custom handler (the Go
// binary `handler` next to host.json, staged by `make package`), deployed
// from a blob container with the managed identity, and every app setting
// tenantsync and its Functions host read (internal/settings is the list;
// internal/deploycheck checks this file against it and against
// functions/*/function.json).
//
// AVM web/serverfarm 0.1.1 (name, sku, reserved, location, tags; output
// resourceId) and web/site 0.16.0 (kind, name, location, tags,
// serverFarmResourceId, managedIdentities, httpsOnly, clientAffinityEnabled,
// functionAppConfig, siteConfig; outputs name, resourceId, defaultHostname),
// as in the Flex Consumption samples linked from "Automate resource
// deployment for your function app":
// https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code
// https://github.com/Azure/bicep-registry-modules/tree/main/avm/res/web/site
//
// App settings are written by the Microsoft.Web/sites/config resource below,
// not by the module's configs parameter, because TENANTSYNC_WEBHOOK_URL needs
// the site's default host name, an output of the module itself.
// deploycheck reads the setting names from the object literals of the
// variables whose names end in "Settings": keep every setting in one of them.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags of the plan and the app.')
param tags object

@description('The azd service this app implements (azure.yaml services.app); azd finds the app by this tag.')
param serviceName string = 'app'

@description('Resource id of the user-assigned managed identity.')
param identityResourceId string

@description('Client id of the managed identity.')
param identityClientId string

@description('Principal id of the managed identity.')
param identityPrincipalId string

@description('Primary blob endpoint of the storage account, with a trailing slash.')
param blobEndpoint string

@description('Table endpoint of the storage account (TENANTSYNC_TABLES).')
param tableEndpoint string

@description('Blob container the plan deploys the package from.')
param deploymentContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Fully qualified Service Bus namespace.')
param serviceBusNamespaceFqdn string

@description('Name of the queue of change messages.')
param queueName string

@description('NCRONTAB schedule of Reconcile.')
param reconcileSchedule string

@description('NCRONTAB schedule of SubscriptionManager.')
param subscriptionSchedule string

@description('The configuration as JSON (TENANTSYNC_CONFIG_JSON); empty to read the packaged tenantsync.yaml.')
param configJson string = ''

@description('Memory of each instance, in MB.')
param instanceMemoryMB int = 512

@description('Most instances the app scales out to.')
param maximumInstanceCount int = 40

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'flex-consumption-plan'
  params: {
    name: planName
    location: location
    tags: tags
    // Flex Consumption: sku FC1, tier FlexConsumption, Linux only (reserved).
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

module functionApp 'br/public:avm/res/web/site:0.16.0' = {
  name: 'function-app'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    serverFarmResourceId: plan.outputs.resourceId
    managedIdentities: {
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    httpsOnly: true
    clientAffinityEnabled: false
    // Site.properties.functionAppConfig of Microsoft.Web/sites@2024-04-01:
    // https://learn.microsoft.com/azure/templates/microsoft.web/sites#functionappconfig
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // Custom handlers on Flex Consumption: runtime custom 1.0
      // (FUNCTIONS_WORKER_RUNTIME is not an app setting on Flex).
      // https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
    // The module's default siteConfig has alwaysOn: true, which Flex
    // Consumption rejects.
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
    }
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: name
}

// Settings the Functions host reads. Identity-based AzureWebJobsStorage with
// a user-assigned identity (blob only: timer singletons; no queue or table
// triggers), and Entra ID authentication for Application Insights:
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
// https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Settings tenantsync reads (internal/settings), and the identity-based
// ServiceBusConnection that ProcessChange's trigger uses:
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus#identity-based-connections
var tenantsyncSettings = {
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespaceFqdn
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  ServiceBusQueueName: queueName
  TENANTSYNC_TABLES: tableEndpoint
  AZURE_CLIENT_ID: identityClientId
  ReconcileSchedule: reconcileSchedule
  SubscriptionSchedule: subscriptionSchedule
  // Without the function key: the code lists it at run time (see below and
  // internal/settings FunctionAppID) and appends ?code=<key>.
  TENANTSYNC_WEBHOOK_URL: 'https://${functionApp.outputs.defaultHostname}/api/GraphWebhook'
  TENANTSYNC_FUNCTION_APP_ID: functionApp.outputs.resourceId
}

// Either the configuration itself or the path of the packaged file, relative
// to the handler's working directory (the script root next to host.json).
var configSettings = empty(configJson)
  ? {
      TENANTSYNC_CONFIG: 'tenantsync.yaml'
    }
  : {
      TENANTSYNC_CONFIG_JSON: configJson
    }

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, tenantsyncSettings, configSettings)
  dependsOn: [
    functionApp
  ]
}

// The one management-plane right the identity needs: listing the function
// keys of this app, so that the Graph subscription's notificationUrl can
// carry GraphWebhook's key (authLevel function). A custom role keeps it to
// that action on this site instead of Website Contributor.
// Action name: https://learn.microsoft.com/azure/azure-functions/monitor-functions-reference#activity-log
resource webhookKeyReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, name, 'tenantsync-webhook-key-reader')
  properties: {
    roleName: 'tenantsync webhook key reader (${name})'
    description: 'Lists the function keys of the tenantsync function app, to build the Graph notification URL.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Web/sites/functions/listkeys/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource webhookKeyReaderAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, name, identityPrincipalId, 'tenantsync-webhook-key-reader')
  scope: site
  properties: {
    // Role definitions are addressed at subscription level even when they
    // are created from a resource group deployment.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webhookKeyReader.name)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    functionApp
    webhookKeyReader
  ]
}

@description('Name of the function app.')
output name string = functionApp.outputs.name

@description('Resource id of the function app.')
output resourceId string = functionApp.outputs.resourceId

@description('Default host name of the function app.')
output defaultHostname string = functionApp.outputs.defaultHostname

@description('URL of GraphWebhook without the function key.')
output webhookUrl string = 'https://${functionApp.outputs.defaultHostname}/api/GraphWebhook'
