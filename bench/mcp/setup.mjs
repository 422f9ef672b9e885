// Provisions what the MCP benchmark needs in a fresh mandate, through its public APIs only:
// a SCIM user and a group holding it, then with the admin token one connector per upstream
// (each with one read tool `echo`: GET /echo?message=...), its bearer credential, and a grant
// of each tool to the group.
//
//   node setup.mjs BASE SCIM_TOKEN ADMIN_TOKEN NAME=URL [NAME=URL...]
//     e.g. node setup.mjs http://127.0.0.1:8080 mdt_scim_... mdt_admin_... bench=http://127.0.0.1:8081
//   prints one JSON line: {"user":..., "userName":..., "group":..., "tools":["bench__echo", ...]}
// Exits non-zero with the server's answer on any unexpected status.
const [base, scimToken, adminToken, ...connectors] = process.argv.slice(2);
if (!base || !scimToken || !adminToken || connectors.length === 0) {
    console.error("usage: node setup.mjs BASE SCIM_TOKEN ADMIN_TOKEN NAME=URL [NAME=URL...]");
    process.exit(2);
}

async function call(method, path, token, body, want, type = "application/json") {
    const res = await fetch(base + path, {
        method,
        headers: {"Authorization": `Bearer ${token}`, "Content-Type": type},
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!want.includes(res.status))
        throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 400)}`);
    return text ? JSON.parse(text) : null;
}

const userName = "bench@example.com";
const user = await call("POST", "/scim/v2/Users", scimToken, {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName, active: true, name: {givenName: "Bench", familyName: "User"},
}, [201], "application/scim+json");
const group = await call("POST", "/scim/v2/Groups", scimToken, {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "bench", members: [{value: user.id}],
}, [201], "application/scim+json");

const tools = [];
for (const spec of connectors) {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq), url = spec.slice(eq + 1);
    await call("PUT", `/api/v1/connectors/${name}`, adminToken, {
        name, title: `Bench ${name}`, base_url: url, auth: {type: "bearer"},
        tools: [{
            name: "echo", title: "Echo", description: "Echoes a message (benchmark upstream)",
            level: "read",
            input_schema: {
                type: "object",
                properties: {message: {type: "string", description: "the text to echo"}},
                additionalProperties: false,
            },
            request: {method: "GET", path: "/echo", query: ["message"]},
        }],
    }, [200, 201]);
    await call("PUT", `/api/v1/connectors/${name}/credential`, adminToken, {token: "x"}, [200, 201]);
    await call("POST", "/api/v1/grants", adminToken,
               {subject: {type: "group", id: group.id}, tool: `${name}__echo`}, [201]);
    tools.push(`${name}__echo`);
}
console.log(JSON.stringify({user: user.id, userName, group: group.id, tools}));
