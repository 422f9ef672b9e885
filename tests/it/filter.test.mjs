// Filters (RFC 7644 section 3.4.2.2) over a known set of users and groups on a fresh server:
// every operator, logic and precedence, sub-attributes, URN paths, value paths, caseExact,
// literals, the quirks Microsoft sends, and invalidFilter errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertScimError, createGroup, createUser, q, URN } from './lib/scim.mjs';
import { sleep, startServer } from './lib/server.mjs';

describe('filters', () => {
    let srv;
    const U = {}; // name -> created user
    let G1;
    let G2;
    let tMid; // a time between the creation of alice..carol and dave..frank

    before(async () => {
        srv = await startServer();
        // Raw bodies, without the defaults of userBody, so that each user has exactly these.
        const mk = async (key, body) => {
            const r = await srv.scim('POST', '/Users', { schemas: [URN.USER], ...body });
            assert.equal(r.status, 201, r.text);
            U[key] = r.body;
        };
        await mk('alice', {
            userName: 'alice@example.com', displayName: 'Alice Smith', title: 'Engineer',
            externalId: 'EXT-Alice', name: { givenName: 'Alice', familyName: 'Smith' },
            emails: [{ value: 'alice@example.com', type: 'work', primary: true },
                { value: 'alice@home.org', type: 'home' }],
            active: true, userType: 'Employee',
            [URN.ENT]: { department: 'Sales', employeeNumber: '100' },
            schemas: [URN.USER, URN.ENT],
        });
        await mk('bob', {
            userName: 'bob@example.org', displayName: 'Bob Jones', title: 'Manager',
            externalId: 'ext-bob', name: { givenName: 'Bob', familyName: 'Jones' },
            emails: [{ value: 'bob@example.org', type: 'work' }],
            active: false, userType: 'Contractor',
            [URN.ENT]: { department: 'Engineering', employeeNumber: '200' },
            schemas: [URN.USER, URN.ENT],
        });
        await mk('carol', {
            userName: 'Carol.Lee@Example.com', displayName: 'Carol Lee',
            name: { givenName: 'Carol', familyName: 'Lee' },
            emails: [{ value: 'carol@home.org', type: 'home' }], active: true,
        });
        await sleep(20);
        tMid = new Date().toISOString();
        await sleep(20);
        await mk('dave', {
            userName: 'dave_1%x@example.com', displayName: 'Dave "Quote" O\'Neil',
            name: { givenName: 'Dave', familyName: 'Employee' },
            emails: [{ value: 'dave@example.com', type: 'work' }], active: true, title: 'Engineer',
        });
        await mk('erin', {
            userName: 'daveX1axx@example.com', displayName: 'Erin',
            name: { givenName: 'Erin', familyName: 'Employee' },
            emails: [{ value: 'erin@example.org', type: 'work' }], active: true,
        });
        await mk('frank', { userName: 'OMalley', active: true, name: { familyName: 'Frank' } });
        G1 = await createGroup(srv, { displayName: 'Sales Team', externalId: 'g-ext-1',
            members: [{ value: U.alice.id }, { value: U.bob.id }] });
        G2 = await createGroup(srv, { displayName: 'Engineering', members: [{ value: U.bob.id }] });
    });
    after(() => srv && srv.close());

    const users = async (filter, extra = {}) => {
        const r = await srv.scim('GET', `/Users${q({ filter, count: 100, ...extra })}`);
        assert.equal(r.status, 200, `filter ${filter}: ${r.text}`);
        assert.equal(r.body.totalResults, r.body.Resources.length);
        const byId = Object.fromEntries(Object.entries(U).map(([k, v]) => [v.id, k]));
        return r.body.Resources.map((x) => byId[x.id] || x.id).sort();
    };
    const expectUsers = async (filter, want) => {
        assert.deepEqual(await users(filter), [...want].sort(), `filter: ${filter}`);
    };

    test('eq, ne on userName (caseExact false)', async () => {
        await expectUsers('userName eq "alice@example.com"', ['alice']);
        await expectUsers('userName eq "ALICE@EXAMPLE.COM"', ['alice']);
        await expectUsers('userName eq "carol.lee@example.com"', ['carol']);
        await expectUsers('userName eq "nobody@example.com"', []);
        await expectUsers('userName ne "alice@example.com"', ['bob', 'carol', 'dave', 'erin', 'frank']);
    });

    test('co, sw, ew', async () => {
        await expectUsers('userName co "example.org"', ['bob']);
        await expectUsers('userName sw "ali"', ['alice']);
        await expectUsers('userName sw "CAROL"', ['carol']);
        await expectUsers('userName ew "@example.com"', ['alice', 'carol', 'dave', 'erin']);
        await expectUsers('displayName co "smi"', ['alice']);
    });

    test('co, sw, ew take % and _ literally', async () => {
        await expectUsers('userName co "_1%"', ['dave']);
        await expectUsers('userName sw "dave_"', ['dave']);
        await expectUsers('userName co "%"', ['dave']);
        await expectUsers('userName co "_"', ['dave']);
        await expectUsers('userName ew "%x@example.com"', ['dave']);
    });

    test('string escapes in values', async () => {
        await expectUsers('displayName eq "Dave \\"Quote\\" O\'Neil"', ['dave']);
        await expectUsers('displayName co "\\"Quote\\""', ['dave']);
    });

    test('externalId is caseExact', async () => {
        await expectUsers('externalId eq "EXT-Alice"', ['alice']);
        await expectUsers('externalId eq "ext-alice"', []);
        await expectUsers('externalId sw "ext-"', ['bob']);
    });

    test('id eq', async () => {
        await expectUsers(`id eq "${U.bob.id}"`, ['bob']);
    });

    test('pr and not pr', async () => {
        await expectUsers('title pr', ['alice', 'bob', 'dave']);
        await expectUsers('not (title pr)', ['carol', 'erin', 'frank']);
        await expectUsers('emails pr', ['alice', 'bob', 'carol', 'dave', 'erin']);
        await expectUsers(`${URN.ENT}:department pr`, ['alice', 'bob']);
    });

    test('boolean literals', async () => {
        await expectUsers('active eq true', ['alice', 'carol', 'dave', 'erin', 'frank']);
        await expectUsers('active eq false', ['bob']);
        await expectUsers('active ne true', ['bob']);
        await expectUsers('ACTIVE EQ FALSE', ['bob']);
    });

    test('null literal', async () => {
        await expectUsers('title eq null', ['carol', 'erin', 'frank']);
        await expectUsers('title ne null', ['alice', 'bob', 'dave']);
    });

    test('number literals parse and compare as numbers', async () => {
        await expectUsers('title eq 12', []);
        await expectUsers('title eq -1.5e3 or userName eq "alice@example.com"', ['alice']);
        // A malformed number is a bareword, which this server takes as a string (Microsoft sends
        // unquoted values), so it parses and matches nothing.
        await expectUsers('title eq 1.2.3', []);
    });

    test('gt ge lt le on strings', async () => {
        await expectUsers('userName gt "d"', ['dave', 'erin', 'frank']);
        await expectUsers('userName lt "c"', ['alice', 'bob']);
        await expectUsers('userName ge "bob@example.org"', ['bob', 'carol', 'dave', 'erin', 'frank']);
        await expectUsers('userName le "bob@example.org"', ['alice', 'bob']);
    });

    test('dateTime comparisons on meta.created and meta.lastModified', async () => {
        await expectUsers(`meta.created gt "${tMid}"`, ['dave', 'erin', 'frank']);
        await expectUsers(`meta.created lt "${tMid}"`, ['alice', 'bob', 'carol']);
        await expectUsers(`meta.lastModified ge "${tMid}"`, ['dave', 'erin', 'frank']);
        await expectUsers('meta.created gt "2015-10-10T14:38:21Z"', Object.keys(U));
        await expectUsers('meta.created le "2015-10-10T14:38:21Z"', []);
        // An offset and a fraction of seven digits, unquoted, as Microsoft's collection sends.
        await expectUsers('meta.Created gt 2015-10-10T14:38:21.8617979-07:00', Object.keys(U));
    });

    test('and, or, not, parentheses and precedence', async () => {
        await expectUsers('title eq "Engineer" and active eq true', ['alice', 'dave']);
        await expectUsers('title eq "Manager" or displayName eq "Erin"', ['bob', 'erin']);
        // "and" binds tighter than "or".
        await expectUsers('userName sw "bob" or userName sw "alice" and active eq true', ['alice', 'bob']);
        await expectUsers('(userName sw "bob" or userName sw "alice") and active eq true', ['alice']);
        await expectUsers('userName sw "alice" and active eq false or userName sw "bob"', ['bob']);
        await expectUsers('userName sw "alice" and (active eq false or userName sw "bob")', []);
        await expectUsers('not (active eq true)', ['bob']);
        await expectUsers('not (title eq "Engineer") and title pr', ['bob']);
        await expectUsers('((userName sw "a"))', ['alice']);
        await expectUsers('not (not (userName sw "a"))', ['alice']);
    });

    test('operators and attribute names are case-insensitive', async () => {
        await expectUsers('USERNAME EQ "alice@example.com"', ['alice']);
        await expectUsers('UserName Sw "ali"', ['alice']);
        await expectUsers('DisplayName eq "Bob Jones"', ['bob']);
        await expectUsers('title eq "Engineer" AND active Eq TRUE', ['alice', 'dave']);
    });

    test('sub-attributes and multi-valued attributes', async () => {
        await expectUsers('name.familyName eq "Smith"', ['alice']);
        await expectUsers('name.FamilyName eq "employee"', ['dave', 'erin']);
        await expectUsers('emails.value eq "alice@home.org"', ['alice']);
        await expectUsers('emails.type eq "home"', ['alice', 'carol']);
        await expectUsers('emails co "example.org"', ['bob', 'erin']);
        await expectUsers('emails.Value co "example.com"', ['alice', 'dave']);
    });

    test('schema-URN-qualified paths', async () => {
        await expectUsers(`${URN.USER}:userName eq "alice@example.com"`, ['alice']);
        await expectUsers(`${URN.USER}:name.givenName eq "Bob"`, ['bob']);
        await expectUsers(`${URN.ENT}:department eq "Sales"`, ['alice']);
        await expectUsers(`${URN.ENT}:employeeNumber eq "200"`, ['bob']);
        await expectUsers(`${URN.ENT.toUpperCase()}:DEPARTMENT eq "sales"`, ['alice']);
    });

    test('value paths', async () => {
        await expectUsers('emails[type eq "work" and value co "@example.com"]', ['alice', 'dave']);
        await expectUsers('emails[type eq "home"]', ['alice', 'carol']);
        await expectUsers('emails[type eq "work" and value ew ".org"]', ['bob', 'erin']);
        // Both conditions must hold for the same element.
        await expectUsers('emails[type eq "home" and value co "example.com"]', []);
        await expectUsers('emails[not (type eq "work")]', ['alice', 'carol']);
        await expectUsers('emails[type eq "work"] and active eq false', ['bob']);
        await expectUsers('emails[primary eq true]', ['alice']);
    });

    test('Microsoft quirks: barewords, + as space, name.FamilyName, emails.Value', async () => {
        await expectUsers('userName sw O', ['frank']);
        await expectUsers('name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)',
            ['dave', 'erin']);
        const r = await srv.scim('GET', '/Users?filter=userName+eq+%22OMalley%22');
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.Resources.map((x) => x.id), [U.frank.id]);
        const r2 = await srv.scim('GET', '/Users/?filter=DisplayName+eq+%22Bob+Jones%22');
        assert.equal(r2.status, 200, r2.text);
        assert.deepEqual(r2.body.Resources.map((x) => x.id), [U.bob.id]);
    });

    test('enterprise manager.value', async () => {
        const m = await createUser(srv, { schemas: [URN.USER, URN.ENT], [URN.ENT]: { manager: { value: U.alice.id } } });
        const r = await srv.scim('GET', `/Users${q({ filter: `${URN.ENT}:manager.value eq "${U.alice.id}"` })}`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.Resources.map((x) => x.id), [m.id]);
        await srv.scim('DELETE', `/Users/${m.id}`);
    });

    test('filters on groups', async () => {
        const g = async (filter) => {
            const r = await srv.scim('GET', `/Groups${q({ filter })}`);
            assert.equal(r.status, 200, `${filter}: ${r.text}`);
            return r.body.Resources.map((x) => x.id).sort();
        };
        assert.deepEqual(await g('displayName eq "Sales Team"'), [G1.id]);
        assert.deepEqual(await g('displayName eq "sales team"'), [G1.id]);
        assert.deepEqual(await g('displayName sw "Eng"'), [G2.id]);
        assert.deepEqual(await g(`members.value eq "${U.bob.id}"`), [G1.id, G2.id].sort());
        assert.deepEqual(await g(`members[value eq "${U.alice.id}"]`), [G1.id]);
        assert.deepEqual(await g(`members.value eq "${U.carol.id}"`), []);
        assert.deepEqual(await g('externalId eq "g-ext-1"'), [G1.id]);
        assert.deepEqual(await g('not (members pr)'), []);
    });

    test('filters on users by group membership', async () => {
        await expectUsers(`groups.value eq "${G2.id}"`, ['bob']);
        await expectUsers(`groups.value eq "${G1.id}"`, ['alice', 'bob']);
    });

    test('an invalid filter is 400 invalidFilter', async () => {
        const bad = [
            'userName eq',
            'userName xx "a"',
            'eq "a"',
            'userName eq "unterminated',
            '(userName eq "a"',
            'userName eq "a")',
            'userName eq "a" and',
            'userName eq "a" or or userName eq "b"',
            'emails[type eq "work"',
            'not userName eq "a"',
            'userName pr "x"',
            'noSuchAttribute eq "x"',
            'name.noSuchSub eq "x"',
            'urn:nope:1.0:User:userName eq "x"',
            'active gt true',
        ];
        for (const f of bad) {
            const r = await srv.scim('GET', `/Users${q({ filter: f })}`);
            assertScimError(r, 400, 'invalidFilter');
        }
    });

    test('a filter too long or too deep is 400 invalidFilter', async () => {
        const long = `userName eq "${'a'.repeat(5000)}"`;
        assertScimError(await srv.scim('GET', `/Users${q({ filter: long })}`), 400, 'invalidFilter');
        const deep = `${'('.repeat(200)}userName eq "a"${')'.repeat(200)}`;
        assertScimError(await srv.scim('GET', `/Users${q({ filter: deep })}`), 400, 'invalidFilter');
        const many = Array.from({ length: 400 }, (_, i) => `userName eq "u${i}"`).join(' or ');
        const r = await srv.scim('GET', `/Users${q({ filter: many })}`);
        assert.ok(r.status === 200 || r.status === 400, r.text);
        if (r.status === 400) assertScimError(r, 400, 'invalidFilter');
    });

    test('a filter in POST .search is the same language', async () => {
        const r = await srv.scim('POST', '/Users/.search',
            { schemas: [URN.SEARCH], filter: 'emails[type eq "home"] and not (userName sw "carol")' });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.Resources.map((x) => x.id), [U.alice.id]);
    });
});
