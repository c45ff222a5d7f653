// The Flex Consumption plan and the function app: a custom handler (the Go
// binary `handler` next to host.json, staged by `make package`), deployed
// from a blob container with the deployment identity, and every app setting
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

@description('Resource id of the runtime managed identity (host storage, tables, Service Bus, telemetry, the function key).')
param identityResourceId string

@description('Client id of the runtime managed identity.')
param identityClientId string

@description('Principal id of the runtime managed identity.')
param identityPrincipalId string

@description('Resource id of the Graph identity, the one the Graph app\'s federated credential trusts.')
param graphIdentityResourceId string

@description('Client id of the Graph identity (TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID).')
param graphIdentityClientId string

@description('Resource id of the deployment identity, which reads and writes the deployment container only.')
param deploymentIdentityResourceId string

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

@description('Always-ready instances of the HTTP function group (GraphWebhook, GraphLifecycle, Status); 0 for none.')
param httpAlwaysReadyInstances int = 1

@description('Create the operator sign-in app (operator-app.bicep) and put App Service authentication in front of the status page.')
param createOperatorApp bool = true

@description('Client id of an operator sign-in app created by hand, used when createOperatorApp is false; empty: no sign-in, and the status page refuses every request.')
param operatorAppClientId string = ''

@description('Tenant-wide unique name of the operator sign-in app.')
param operatorAppUniqueName string = ''

@description('Display name of the operator sign-in app.')
param operatorAppDisplayName string = ''

@description('Object ids of the users or groups given the operator role.')
param statusPageOperators string[] = []

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
    // One identity per power (docs/security.md): the app holds all three,
    // and each setting names the one it uses by client id.
    managedIdentities: {
      userAssignedResourceIds: [
        identityResourceId
        graphIdentityResourceId
        deploymentIdentityResourceId
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
          // The deployment identity: Storage Blob Data Contributor on this
          // container and nothing else (storage.bicep).
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deploymentIdentityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        // Always-ready instances of the "http" per-function scale group,
        // where all HTTP functions run together, so that Graph's validation
        // request (10 s) and notifications (about 3 s) do not wait for a
        // cold start. FunctionsAlwaysReadyConfig {name, instanceCount};
        // billed whether or not anything runs (docs/deploy.md):
        // https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#always-ready-instances
        // https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to#set-always-ready-instance-counts
        alwaysReady: httpAlwaysReadyInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: httpAlwaysReadyInstances
              }
            ]
          : []
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

// The Entra app operators sign in with; its redirect URI is App Service
// authentication's callback on this app's host name.
module operatorApp 'operator-app.bicep' = if (createOperatorApp) {
  name: 'operator-app'
  params: {
    uniqueName: operatorAppUniqueName
    displayName: operatorAppDisplayName
    redirectUri: 'https://${functionApp.outputs.defaultHostname}/.auth/login/aad/callback'
    operatorPrincipalIds: statusPageOperators
  }
}

// The app operators sign in with, created here or by hand; empty: none.
var statusPageClientId = createOperatorApp ? operatorApp!.outputs.clientId : operatorAppClientId
var statusPageSignIn = createOperatorApp || !empty(operatorAppClientId)

// The routes Graph calls with the function key (authLevel function in
// functions/GraphWebhook and functions/GraphLifecycle, under host.json's
// routePrefix "api"), and the Functions host's own admin API, which its
// master key protects: App Service authentication lets them through
// unauthenticated; everything else, the status page above all, needs a
// sign-in. deploycheck holds this list to the function folders.
var unauthenticatedPaths = [
  '/api/GraphWebhook'
  '/api/GraphLifecycle'
  '/admin/*'
]

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
  // The Graph app's federated credential trusts this identity only.
  TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID: graphIdentityClientId
  // The status page answers only principals signed in for this app.
  TENANTSYNC_OPERATOR_APP_CLIENT_ID: statusPageClientId
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

// App Service built-in authentication ("Easy Auth") in front of the app:
// Microsoft Entra ID sign-in for the operator app, required on every path but
// unauthenticatedPaths (globalValidation.excludedPaths), and only for users
// the operator app admits (appRoleAssignmentRequired). Behind it, the status
// page checks the principal the platform forwards (X-MS-CLIENT-PRINCIPAL)
// for this app and the operator role (internal/statuspage RequireOperator),
// and the Status function needs no function key (authLevel anonymous).
// Resource shape: https://learn.microsoft.com/azure/templates/microsoft.web/sites/config-authsettingsv2
// Flex Consumption: the preview's "EasyAuth isn't currently supported"
// consideration is gone from the plan's list since general availability
// (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations);
// the page's own check stands whatever the platform does (docs/security.md).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (statusPageSignIn) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: unauthenticatedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: statusPageClientId
          // The source tenant, where the operator app lives (single tenant).
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            statusPageClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
  dependsOn: [
    appSettings
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
  // Explicitly after the definition: ARM would otherwise start both at
  // once, since the id above is built from the name, not from a reference.
  // Even so Azure may not have replicated a definition created seconds
  // earlier ("RoleDefinitionDoesNotExist"); templates have no retry, so
  // docs/deploy.md says to run azd provision again, which is idempotent.
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

@description('URL of the status page (Entra sign-in, operator role).')
output statusPageUrl string = 'https://${functionApp.outputs.defaultHostname}/api/status'

@description('Client id of the operator sign-in app; empty when there is none.')
output operatorAppClientId string = statusPageClientId
