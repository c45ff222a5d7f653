// Package customhandler speaks the Azure Functions custom-handler protocol:
// it is the web server the Functions host starts and calls, and it decodes
// and encodes the host's invocation payloads. It holds no tenantsync logic.
//
// The host talks to a custom handler in two ways, both over HTTP on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT:
//
//   - Invocations. For a function with a non-HTTP trigger (Service Bus,
//     timer) the host POSTs {"Data":{…},"Metadata":{…}} to /<FunctionName>
//     and expects {"Outputs":{…},"Logs":[…],"ReturnValue":…} back. A non-2xx
//     answer fails the invocation: that is how a Service Bus message is
//     abandoned on purpose (and retried, then dead-lettered). The host reads
//     Logs only from 2xx answers, so a failure is also written to the
//     process log, which the host captures from the worker's stdout.
//   - Forwarded HTTP. With enableForwardingHttpRequest in host.json, a
//     function whose only bindings are httpTrigger and http out gets the
//     original request at its own path (/api/<route>, query included) and
//     the handler's response goes back to the caller unchanged.
//
// The host also probes the server with GET / until it answers (every 25 ms,
// for at most 30 s, then it restarts the worker), and sends the invocation id
// in the X-Azure-Functions-InvocationId header of every request; Server puts
// it on every log record. Server answers the probe at once, whatever else is
// still opening: ServerOptions.Ready holds invocations and forwarded requests
// until the functions' dependencies are open, so that a slow dependency at
// cold start delays requests instead of failing the worker's start.
//
// A forwarded request is the caller's, as the host received it: its path in
// the caller's spelling (the host's routes match without regard to case, and
// so do Server's), its query re-encoded, every header the caller sent,
// including Host (the app's public host name, not 127.0.0.1), and the
// host's X-Azure-Functions-* headers and User-Agent suffix. The body and its
// Content-Type go along only when the caller's Content-Length is above zero
// (Azure/azure-functions-host, src/WebJobs.Script/Extensions/
// HttpRequestExtensions.cs, ToHttpRequestMessage, lines 155-181), so an empty
// POST, such as Graph's validation request, arrives without Content-Type and
// with the "Content-Length: 0" that .NET's HttpClient writes for a POST
// without content (dotnet/runtime, System.Net.Http SocketsHttpHandler
// HttpConnection.cs, "Write out Content-Length: 0 header to indicate no
// body").
//
// Payload shapes follow the host's code (Azure/azure-functions-host,
// ScriptInvocationContextExtensions.ToHttpScriptInvocationContext) and the
// Service Bus extension 5.x binding data: string metadata values are JSON
// encoded a second time ("MessageId":"\"abc\""), numbers arrive as strings
// ("DeliveryCount":"1"), a string trigger value is encoded a second time
// too, and DateTime values carry no zone (they are UTC). The decoders accept
// the singly encoded forms as well, because older hosts and the documentation
// show them. See testdata/README.md for the sources of each fixture.
//
// One host behaviour matters to whoever designs queue messages: when a
// Service Bus body is a JSON object, the host copies its top-level scalar and
// object properties into the trigger metadata, replacing metadata of the same
// name (case-insensitively). CheckServiceBusBody reports such collisions.
package customhandler
