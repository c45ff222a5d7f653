package graphsim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// GenerateOptions configure GenerateTenant.
type GenerateOptions struct {
	Domain      string // required, such as fabrikam.example
	ID          string // tenant id; default derived from Domain
	DisplayName string // default: Domain
	CompanyName string // companyName of the users; default: DisplayName
	Users       int    // number of users, guests included
	// Seed makes the tenant reproducible: the same options give the same
	// users, ids and groups.
	Seed uint64
}

type department struct {
	name   string
	weight int
	head   string
	lead   string
	staff  []string
}

var departments = []department{
	{"Sales", 18, "VP of Sales", "Sales Manager", []string{"Account Executive", "Sales Representative", "Inside Sales Representative", "Sales Engineer"}},
	{"Marketing", 9, "VP of Marketing", "Marketing Manager", []string{"Marketing Specialist", "Content Strategist", "Product Marketing Manager", "Brand Designer"}},
	{"Engineering", 24, "VP of Engineering", "Engineering Manager", []string{"Software Engineer", "Senior Software Engineer", "Site Reliability Engineer", "QA Engineer", "Principal Engineer"}},
	{"Finance", 7, "Chief Financial Officer", "Finance Manager", []string{"Financial Analyst", "Accountant", "Payroll Specialist"}},
	{"Human Resources", 5, "Director of People", "HR Manager", []string{"HR Generalist", "Recruiter", "Learning Specialist"}},
	{"Legal", 3, "General Counsel", "Legal Manager", []string{"Corporate Counsel", "Paralegal", "Compliance Analyst"}},
	{"Operations", 12, "Chief Operating Officer", "Operations Manager", []string{"Operations Analyst", "Logistics Coordinator", "Facilities Coordinator"}},
	{"Customer Support", 14, "Director of Support", "Support Manager", []string{"Support Engineer", "Customer Success Manager", "Support Specialist"}},
	{"IT", 8, "Chief Information Officer", "IT Manager", []string{"Systems Administrator", "Service Desk Analyst", "Security Analyst", "Network Engineer"}},
}

type office struct {
	city, state, country, usage, postal, street, name, phone, lang string
}

var offices = []office{
	{"Seattle", "WA", "United States", "US", "98101", "1 Pike Street", "Seattle HQ", "+1 206 555 ", "en-US"},
	{"New York", "NY", "United States", "US", "10001", "350 Fifth Avenue", "New York", "+1 212 555 ", "en-US"},
	{"Austin", "TX", "United States", "US", "78701", "600 Congress Avenue", "Austin", "+1 512 555 ", "en-US"},
	{"London", "", "United Kingdom", "GB", "EC2A 4BX", "80 Clerkenwell Road", "London", "+44 20 7946 ", "en-GB"},
	{"Munich", "BY", "Germany", "DE", "80331", "Marienplatz 8", "München", "+49 89 5550 ", "de-DE"},
	{"Toronto", "ON", "Canada", "CA", "M5H 2N2", "100 King Street West", "Toronto", "+1 416 555 ", "en-CA"},
	{"Sydney", "NSW", "Australia", "AU", "2000", "1 Martin Place", "Sydney", "+61 2 5550 ", "en-AU"},
}

var firstNames = []string{
	"Adele", "Alex", "Allan", "Amara", "Ana", "Ben", "Bianca", "Carlos", "Chen", "Chloe",
	"Daniel", "Diego", "Elena", "Emily", "Farah", "Felix", "Grace", "Hannah", "Hiro", "Isaac",
	"Isabella", "Ivan", "Jamal", "Jana", "Johanna", "Jonas", "Julia", "Kenji", "Lara", "Lee",
	"Lena", "Liam", "Lidia", "Lucas", "Lynne", "Maja", "Marco", "Maria", "Megan", "Miriam",
	"Nathan", "Nestor", "Nia", "Noah", "Olga", "Omar", "Patti", "Pradeep", "Priya", "Rafael",
	"Raul", "Rosa", "Samir", "Sara", "Sofia", "Tariq", "Thomas", "Uma", "Victor", "Wei",
	"Yara", "Yusuf", "Zoe", "Aiko", "Bruno", "Camila", "Dmitri", "Eva", "Femi", "Gustav",
}

var lastNames = []string{
	"Adams", "Ahmed", "Andersen", "Bauer", "Becker", "Brown", "Castro", "Chen", "Clark", "Costa",
	"Davies", "Diaz", "Dubois", "Evans", "Fischer", "Fernandes", "Garcia", "Gomez", "Gupta", "Hansen",
	"Harris", "Hoffmann", "Ito", "Jackson", "Jensen", "Johnson", "Kato", "Khan", "Kim", "Kowalski",
	"Lambert", "Larsen", "Lee", "Lopez", "Martin", "Meyer", "Miller", "Moreau", "Mueller", "Nakamura",
	"Nguyen", "Novak", "O'Brien", "Okafor", "Olsen", "Patel", "Perez", "Petrov", "Quinn", "Rossi",
	"Santos", "Schmidt", "Schneider", "Silva", "Singh", "Smith", "Sousa", "Suzuki", "Tanaka", "Taylor",
	"Thomas", "Varga", "Wagner", "Walker", "Wang", "Weber", "Wilson", "Wong", "Yamamoto", "Zhang",
}

var partnerDomains = []string{"northwind.example", "adatum.example", "tailspin.example", "wingtip.example"}

// Names of the scoping groups every generated tenant has.
const (
	// ScopingGroup is the group tenantsync's demo configuration syncs.
	ScopingGroup = "Cross-tenant sync"
	// NestedScopingGroup is a group nested in ScopingGroup.
	NestedScopingGroup = "Project Phoenix"
)

// GenerateTenant builds a realistic tenant of opts.Users users: a CEO,
// department heads, managers and staff with titles, offices, phones and
// managers; a few disabled users, guests, and users with no mail; a group
// per department, "All employees", a Microsoft 365 group, and the scoping
// group "Cross-tenant sync" (Sales and Marketing, a few guests and disabled
// users, and the nested group "Project Phoenix").
func GenerateTenant(opts GenerateOptions) TenantSeed {
	display := opts.DisplayName
	if display == "" {
		display = opts.Domain
	}
	company := opts.CompanyName
	if company == "" {
		company = display
	}
	ts := TenantSeed{ID: opts.ID, Domain: opts.Domain, DisplayName: display}
	initial := defaultInitialDomain(opts.Domain)
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	n := opts.Users
	if n <= 0 {
		return ts
	}
	base := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	tenantID := opts.ID
	if tenantID == "" {
		tenantID = TenantIDOf(opts.Domain)
	}
	idOf := func(upn string) string { return stableGUID(strings.ToLower(tenantID) + "/user/" + upn) }

	totalWeight := 0
	for _, d := range departments {
		totalWeight += d.weight
	}
	pickDept := func() int {
		x := r.IntN(totalWeight)
		for i, d := range departments {
			if x < d.weight {
				return i
			}
			x -= d.weight
		}
		return 0
	}

	guests := max(1, n/40)
	if n < 4 {
		guests = 0
	}
	members := n - guests
	ts.Users = make([]Object, 0, n)
	used := make(map[string]int, n)
	deptOf := make([]int, members)
	ids := make([]string, 0, n)
	heads := make([]string, len(departments))
	leads := make([][]string, len(departments))
	var ceo string
	var disabled []string
	byDept := make([][]string, len(departments))

	for i := 0; i < members; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		local := strings.ToLower(first + "." + strings.ReplaceAll(last, "'", ""))
		used[local]++
		if c := used[local]; c > 1 {
			local = fmt.Sprintf("%s%d", local, c)
		}
		upn := local + "@" + opts.Domain
		id := idOf(upn)
		off := offices[r.IntN(len(offices))]
		dept, title, manager := 0, "", ""
		switch {
		case i == 0:
			title, dept = "Chief Executive Officer", -1
			ceo = id
		case i <= len(departments):
			dept = i - 1
			title = departments[dept].head
			heads[dept] = id
			manager = ceo
		default:
			dept = pickDept()
			if heads[dept] == "" {
				heads[dept] = id
				title = departments[dept].head
				manager = ceo
				break
			}
			// One lead per eight staff, reporting to the head.
			if len(leads[dept]) == 0 || len(byDept[dept])/8 >= len(leads[dept]) {
				title = departments[dept].lead
				manager = heads[dept]
				leads[dept] = append(leads[dept], id)
				break
			}
			staff := departments[dept].staff
			title = staff[r.IntN(len(staff))]
			manager = leads[dept][r.IntN(len(leads[dept]))]
		}
		deptName := "Executive"
		if dept >= 0 {
			deptName = departments[dept].name
			byDept[dept] = append(byDept[dept], id)
		}
		deptOf[i] = dept
		u := Object{
			"id":                id,
			"userPrincipalName": upn,
			"displayName":       first + " " + last,
			"givenName":         first,
			"surname":           last,
			"mailNickname":      local,
			"jobTitle":          title,
			"department":        deptName,
			"companyName":       company,
			"employeeId":        fmt.Sprintf("E%06d", 100000+i),
			"employeeType":      "Employee",
			"officeLocation":    off.name,
			"city":              off.city,
			"country":           off.country,
			"usageLocation":     off.usage,
			"postalCode":        off.postal,
			"streetAddress":     off.street,
			"preferredLanguage": off.lang,
			"businessPhones":    []string{fmt.Sprintf("%s%04d", off.phone, r.IntN(10000))},
			"accountEnabled":    true,
			"createdDateTime":   graphTime(base.Add(time.Duration(i) * 97 * time.Minute)),
		}
		if off.state != "" {
			u["state"] = off.state
		}
		if r.IntN(10) < 7 {
			u["mobilePhone"] = fmt.Sprintf("%s%04d", off.phone, r.IntN(10000))
		}
		if r.IntN(10) == 0 && title != "Chief Executive Officer" {
			u["employeeType"] = "Contractor"
		}
		if r.IntN(4) == 0 {
			u["onPremisesExtensionAttributes"] = map[string]any{"extensionAttribute1": fmt.Sprintf("CC-%04d", 1000+r.IntN(90)*10)}
		}
		// A few users have no mailbox, and a few have left.
		if i%53 != 52 {
			u["mail"] = upn
		}
		if i%41 == 40 {
			u["accountEnabled"] = false
			disabled = append(disabled, id)
		}
		if manager != "" {
			u["manager"] = manager
		}
		ts.Users = append(ts.Users, u)
		ids = append(ids, id)
	}
	var guestIDs []string
	for g := 0; g < guests; g++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		partner := partnerDomains[g%len(partnerDomains)]
		addr := strings.ToLower(first+"."+strings.ReplaceAll(last, "'", "")) + fmt.Sprintf("%d@%s", g, partner)
		local := strings.ReplaceAll(addr, "@", "_")
		upn := local + "#EXT#@" + initial
		id := idOf(upn)
		ts.Users = append(ts.Users, Object{
			"id":                              id,
			"userPrincipalName":               upn,
			"displayName":                     first + " " + last + " (" + partner + ")",
			"givenName":                       first,
			"surname":                         last,
			"mail":                            addr,
			"otherMails":                      []string{addr},
			"mailNickname":                    local + "#EXT#",
			"userType":                        "Guest",
			"creationType":                    "Invitation",
			"externalUserState":               "Accepted",
			"externalUserStateChangeDateTime": graphTime(base.Add(time.Duration(g) * 24 * time.Hour)),
			"accountEnabled":                  true,
			"createdDateTime":                 graphTime(base.Add(time.Duration(g) * 24 * time.Hour)),
		})
		guestIDs = append(guestIDs, id)
	}

	all := make([]string, len(ids))
	copy(all, ids)
	ts.Groups = append(ts.Groups, Object{"displayName": "All employees", "description": "Every employee of " + company,
		"mailNickname": "all-employees", "members": all})
	for d, dept := range departments {
		if len(byDept[d]) == 0 {
			continue
		}
		ts.Groups = append(ts.Groups, Object{"displayName": dept.name + " team",
			"mailNickname": strings.ReplaceAll(strings.ToLower(dept.name), " ", "-") + "-team", "members": byDept[d]})
	}
	var social []string
	for i, id := range ids {
		if i%10 == 3 {
			social = append(social, id)
		}
	}
	ts.Groups = append(ts.Groups, Object{"displayName": company + " Social", "description": "Clubs, events and coffee",
		"groupTypes": []string{"Unified"}, "mailEnabled": true, "securityEnabled": false,
		"mailNickname": "social", "mail": "social@" + opts.Domain, "visibility": "Public", "members": social})

	// The scoping group: Sales and Marketing directly, two guests and two
	// disabled users, and the nested Project Phoenix group.
	var scoped []string
	for i, id := range ids {
		if d := deptOf[i]; d >= 0 && (departments[d].name == "Sales" || departments[d].name == "Marketing") {
			scoped = append(scoped, id)
		}
	}
	scoped = appendMissing(scoped, firstN(guestIDs, 2)...)
	scoped = appendMissing(scoped, firstN(disabled, 2)...)
	var phoenix []string
	for i, id := range ids {
		if d := deptOf[i]; d >= 0 && (departments[d].name == "Engineering" && i%8 == 1 || departments[d].name == "Finance" && i%16 == 5) {
			phoenix = append(phoenix, id)
		}
	}
	ts.Groups = append(ts.Groups,
		Object{"displayName": NestedScopingGroup, "description": "Engineers and analysts of Project Phoenix, who work with Contoso",
			"mailNickname": "project-phoenix", "members": phoenix},
		Object{"displayName": ScopingGroup, "description": "Users provisioned to partner tenants by tenantsync",
			"mailNickname": "cross-tenant-sync", "members": append(scoped, NestedScopingGroup)},
	)
	return ts
}

func firstN(ids []string, n int) []string {
	if len(ids) < n {
		return ids
	}
	return ids[:n]
}

func appendMissing(list []string, ids ...string) []string {
	seen := make(map[string]bool, len(list))
	for _, id := range list {
		seen[id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			list = append(list, id)
			seen[id] = true
		}
	}
	return list
}

// Demo tenant domains.
const (
	DemoSourceDomain = "fabrikam.example"
	DemoTargetDomain = "contoso.example"
)

// DemoSeed is the built-in demo: Fabrikam (the source, fabrikam.example,
// 300 users generated with a fixed seed) and an empty Contoso (the target,
// contoso.example). The demo, the engine tests and the benchmarks share it.
func DemoSeed() Seed {
	fabrikam := GenerateTenant(GenerateOptions{
		Domain: DemoSourceDomain, DisplayName: "Fabrikam", CompanyName: "Fabrikam", Users: 300, Seed: 2024,
	})
	contoso := TenantSeed{Domain: DemoTargetDomain, DisplayName: "Contoso"}
	return Seed{Tenants: []TenantSeed{fabrikam, contoso}}
}
