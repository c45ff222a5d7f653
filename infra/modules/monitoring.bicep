// Log Analytics and workspace-based Application Insights with local
// (instrumentation key) authentication disabled: the Functions host sends
// telemetry with the managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING
// in app.bicep), which needs Monitoring Metrics Publisher on the component.
//
// AVM operational-insights/workspace 0.11.1 (name, location, tags,
// dataRetention; output resourceId) and insights/component 0.6.0 (name,
// location, tags, workspaceResourceId, disableLocalAuth, roleAssignments;
// outputs name, connectionString), the versions the Azure Functions azd
// quickstarts pin:
// https://github.com/Azure-Samples/functions-quickstart-dotnet-azd/blob/main/infra/main.bicep
// https://github.com/Azure/bicep-registry-modules/tree/main/avm/res/insights/component

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Region of both.')
param location string

@description('Tags of both.')
param tags object

@description('Principal id of the managed identity that publishes telemetry.')
param identityPrincipalId string

// Built-in role Monitoring Metrics Publisher:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/monitor#monitoring-metrics-publisher
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

module workspace 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'log-analytics'
  params: {
    name: logAnalyticsName
    location: location
    tags: tags
    dataRetention: 30
  }
}

module component 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'application-insights'
  params: {
    name: applicationInsightsName
    location: location
    tags: tags
    workspaceResourceId: workspace.outputs.resourceId
    disableLocalAuth: true
    roleAssignments: [
      {
        roleDefinitionIdOrName: monitoringMetricsPublisher
        principalId: identityPrincipalId
        principalType: 'ServicePrincipal'
        description: 'tenantsync: the Functions host sends telemetry with Entra ID authentication'
      }
    ]
  }
}

@description('Name of the Application Insights component.')
output applicationInsightsName string = component.outputs.name

@description('Connection string of the component (APPLICATIONINSIGHTS_CONNECTION_STRING); not a credential with local auth disabled.')
output connectionString string = component.outputs.connectionString
