"""The storyline, month by month: what Maren's days are about, and the days that matter.

Each `Month` holds grammar rules for that month (work, Tidewatch, running,
Dutch, weather, the people she talks to; they sit on top of phrases.RULES) and
dated `events`: fixed sentences written on one day only (the cutover night,
the exam, the race). A fact in persona.FACTS is stated by an event on the day
it happened, so the notes say it in her words, once, on the right date.

June to October 2026 are the base months that write_sample_data writes.
November 2026 to March 2027 continue the story for write_sample_month: Tidewatch
after v0.1, a winter of running in Delft, the Dutch B2 course, a new project at
Kestrel Freight (the customs declarations service). How her style drifts in
those months is drift.py's business, not this file's.

Events may hold wikilinks and tags (they are not grammar phrases); phrases may not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Where she lives decides her commute, runs and walks. life_events.py moves her
# from Rotterdam to Delft on this day (its MOVE_DAY; tests check they agree).
MOVE_DAY = "2026-09-26"
HOME_RULES: dict[str, dict[str, list[str]]] = {
    "Rotterdam": {
        "commute": [
            "Cycled [along the Maas|over the Erasmusbrug|through Kralingen|along the river]"
            " [before work|to work|to the office]. [The wind decided the route, as usual."
            "|Headwind both ways, somehow.|The harbour cranes were already moving.|]",
            "[Bike|Cycled] to the office along the Maas[, {feeling} but awake|]. [The river was flat.|Ships queueing.|]",
        ],
        "route": [
            "the Maas",
            "the Kralingse Plas",
            "Het Park and the river",
            "the Maas and back over the bridge",
        ],
        "walk_place": [
            "along the Rotte",
            "around the Kralingse Plas",
            "along the Maas",
            "through Het Park",
        ],
    },
    "Delft": {
        "commute": [
            "Train from Delft at [7:52|8:07|8:22][, standing room only|, with Dutch homework on my knees|]."
            " [Twenty minutes to Rotterdam.|Read the news on the way.|]",
            "[Walked|Cycled] to Delft station in the [dark|rain|drizzle|half-light]. [The bakery downstairs smelled of bread."
            "|The canals were still asleep.|]",
        ],
        "route": [
            "the Schie",
            "the Delftse Hout",
            "the canals and out along the Schie",
            "the Delftse Hout twice",
        ],
        "walk_place": [
            "along the canals",
            "to the Delftse Hout",
            "along the Schie",
            "around the old town",
        ],
    },
}


@dataclass(frozen=True)
class Month:
    key: str  # "2026-06"
    # One line per thread (work, project, running, dutch): for reviews and the manifest.
    summary: dict[str, str]
    rules: dict[str, list[str]]
    # ISO day -> [(section, text)]: fixed sentences written on that day only.
    events: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # (first day, last day) she is in Bergen: no work, no class.
    away: tuple[tuple[str, str], ...] = ()
    # (first day, rules): from that day on these rules replace the month's (after the
    # cutover, the exam, the race, a day's writing is about what came after it).
    after: tuple[tuple[str, dict[str, list[str]]], ...] = ()
    long_run_km: tuple[int, int] = (8, 12)
    dutch_class: bool = True


_SUMMER = [
    "Sun at six already",
    "Warm and still",
    "Grey sky, warm air",
    "Rain on the window at six",
    "Thunder somewhere over the harbour",
    "Blue sky and a cool wind",
    "Muggy before breakfast",
    "Light rain, the soft kind",
]
_AUTUMN = [
    "Fog over the water",
    "Cold and bright",
    "Rain, sideways",
    "Dark until seven",
    "Wet leaves everywhere",
    "A grey, windless morning",
    "First frost on the bikes",
    "Wind from the sea",
]
_WINTER = [
    "Dark until eight",
    "Frost on the canal",
    "Sleet, the worst kind of weather",
    "Grey, wet, four degrees",
    "A rare blue sky, cold",
    "Storm warnings on the radio",
    "Drizzle, all day by the look of it",
    "Ice on the station steps",
]
_EARLY_SPRING = [
    "Light before seven again",
    "Cold sun",
    "Crocuses by the canal",
    "Rain and then, suddenly, spring",
    "Wind from the north, still wintry",
    "Mild and grey",
]

MONTHS: dict[str, Month] = {}


def _month(month: Month) -> None:
    MONTHS[month.key] = month


# -- June 2026 ----------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-06",
        {
            "work": "the routing service migration kicked off",
            "project": "the harmonic tide model",
            "running": "base building",
            "dutch": "the new evening course",
        },
        {
            "weather": _SUMMER,
            "page_topic": [
                "the migration",
                "Tidewatch",
                "running",
                "Bergen",
                "the summer",
                "the new course",
            ],
            "work": [
                "Mapped [more|the last few|two more|another batch of] consumers of the old routing API. {count} so far, [two of them undocumented|one nobody owns|all of them surprised to hear it|most of them batch jobs].",
                "[Read|Spent {long_time} in|Stepped through] the legacy dispatcher[ again|]. [It works, nobody knows why, and that is the risk.|Every branch has a story and no test.|Found the bit that decides the routes — {count} nested ifs.]",
                "[Rewrote|Tightened|Reordered] the migration plan[ after standup| after the review|]. [Still one page.|Shorter now.|Less prose, more dates.|Added the risks at the top.]",
                "Contract tests with Tom[ all afternoon|, {count} of them today|]. He writes them faster than I do — I name them better.",
                "[Found|Listed|Counted] {count} places where the old API returns [nulls|empty strings|both|a zero for 'unknown']. [Documented, not fixed.|Fun.|Each one a small surprise.|Wrote them all down.]",
                "Split the [first|next|biggest] migration PR into {few} small ones. [Each got reviewed the same day.|Reviews came back within the hour.|Nobody complained.|Tom approved two before lunch.]",
                "Priya wants the migration done by September. [Possible, if we cut scope early.|Possible. Not comfortable.|Said so, in writing.]",
                "Asked the {team} team how they call the routing API. [Three answers, all different.|They were not sure either.|Their client is from 2019.|One answer, finally.]",
                "[Drew|Sketched] the [old|new] routing flow on the whiteboard for {people_at_work}. [Took a photo. It is the documentation now.|Boxes and arrows help.|Two arrows were wrong.]",
                "The {team} team's client [retries forever|has no timeout|caches routes for a day]. [Added to the risk list.|That explains things.]",
            ],
            "code_area": [
                "the dispatcher",
                "the contract tests",
                "the routing client",
                "the consumer list",
            ],
            "net_subject": ["the migration", "the plan", "the consumer map", "the contract tests"],
            "project": [
                "Tidewatch: [got|coaxed] the harmonic model [working|closer] for [Hoek van Holland|Vlissingen|Den Helder]. Predicted high water within {minutes} minutes of the table.",
                "Tidewatch: parsing the station data took [longer than the maths|{long_time}|all evening]. [It always does.|Of course.|Formats.]",
                "Sketched the Tidewatch screens on paper[ again|]. [One screen|One screen, three numbers|Three numbers, big]: next high, next low, [current speed|the slack in between|and when to leave].",
                "[Tidewatch needs an offline mode.|Offline first for Tidewatch.] Kayakers have no signal [exactly where tides matter|out on the water|in the places that matter].",
                "Tidewatch: added [S2|N2|K1|O1] to the model. The error dropped to {minutes} minutes[ at Vlissingen| at Hoek van Holland|].",
                "Tidewatch: the tests compare against the official [table|tide tables]. [Red, then green.|{count} stations, all within a quarter of an hour.|Two stations still off.]",
                "Read about tidal constituents [until late|over dinner|on the balcony]. [M2 does most of the work.|The moon does the heavy lifting.|Shallow-water ones are the hard part.]",
                "Tidewatch: [chose|picked] a name for the [station table|main screen|prediction module]. [Naming is the hard part.|Took longer than the code.]",
            ],
            "run": [
                "Easy {km} km along {route}. [Kept it conversational.|Slow on purpose.|Could have talked the whole way.|Nothing to report.]",
                "Run: {km} km, slow on purpose. [Base building is boring, which is the point.|Boring is the plan.|Easy does it.]",
                "{km} km [in the warm evening|before breakfast|in light rain|after work] along {route}[, all easy|].",
                "Strides after an easy {km} km. [Felt quick.|Felt silly. Did them anyway.|Four of them, short.]",
                "[Short|Easy|Slow] {km} km[ with a friend from the club| alone|]. [Chatted the whole way.|Quiet run.|Good.]",
            ],
            "dutch": [
                "Dutch class: word order after 'omdat'. The verb goes to the end and my brain goes with it.",
                "Practised ordering [coffee|bread|a sandwich] in Dutch. [The barista|The woman at the counter|He] answered in English. [Next time.|Again.|Typical.]",
                "Dutch: [the difference between 'er' and 'daar'|diminutives|the word 'gezellig'|numbers above a hundred]. [The teacher says it takes years.|I understood half.|Fair enough.|Homework for Monday.]",
                "Homework: [ten|twelve] sentences with 'omdat' and 'want'. [Eight right.|Nine right — progress.|All right, suspiciously.]",
                "Dutch class: [role play at a pharmacy|a phone call to a plumber|introducing a colleague]. [I survived.|Laughed a lot.|Too fast for me.]",
            ],
            "ingrid_news": [
                "She is redoing the kitchen in Bergen and has opinions about tiles.",
                "Rain in Bergen for {count} days straight. She sounded proud of it.",
                "The tile man did not come. Again.",
                "She asked when I am coming home in August. Soon.",
            ],
            "jonas_plan": [
                "a paddle on the Oosterschelde",
                "the summer trip",
                "a Sunday on the water",
            ],
            "book": ["The Pragmatic Programmer", "a Dutch children's book"],
            "tomorrow": [
                "review Tom's PR before standup",
                "long run, early",
                "Dutch homework",
                "finish the consumer list",
                "one-page plan, second draft",
                "Tidewatch: station parser",
            ],
            "review_good": [
                "The migration plan held up in front of Priya.",
                "Contract tests are catching real differences already.",
                "Tidewatch predicts within minutes at one station.",
                "Every run done, every one easy.",
            ],
            "review_bad": [
                "I said yes to two meetings I should have declined.",
                "Late nights on Tidewatch made the mornings worse.",
                "The consumer map took twice as long as I said.",
            ],
            "focus": [
                "the consumer map",
                "the contract tests",
                "the tide model",
                "the migration plan",
            ],
            "dutch_next": ["word order", "the homework, on time", "ordering in Dutch, no English"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2026-06-01": [
                (
                    "Work",
                    "First day of the routing migration at Kestrel Freight. I'm a backend engineer on the routing team,"
                    " and at a logistics company routing is the business. As of today the migration is my main job.",
                )
            ],
            "2026-06-02": [
                (
                    "Morning",
                    "I always start the day with morning pages at 6:30 and a pot of tea. Today too.",
                ),
                (
                    "Tidewatch",
                    "I'm building Tidewatch, a tide app for sea kayakers, because every tide app I tried needs a signal.",
                ),
            ],
            "2026-06-03": [
                (
                    "Evening",
                    "Registered for the Maas half marathon on 18 October. The site declined my card twice — a popup"
                    " blocker, of all things.",
                )
            ],
            "2026-06-04": [
                (
                    "Tidewatch",
                    "Read about tidal constituents until midnight. M2 does most of the work — the rest is seasoning.",
                )
            ],
            "2026-06-06": [
                (
                    "Evening",
                    "Revived a starter from the dried flake Ingrid mailed from Bergen. Named him Gus. He smells of"
                    " yoghurt already.",
                )
            ],
            "2026-06-08": [
                (
                    "Evening",
                    "First evening of the new Dutch course. Introduced myself: I work at Kestrel Freight, I'm from Bergen,"
                    " and I'm learning Dutch because six years of English here is enough.",
                )
            ],
            "2026-06-11": [
                (
                    "Work",
                    "Spent the day in Neovim with the dispatcher. I use Neovim for everything, this journal included.",
                )
            ],
            "2026-06-21": [
                (
                    "Evening",
                    "Sunday loaf came out flat. Overproofed — the kitchen was warmer than I thought. Note to self: watch the"
                    " dough, not the clock.",
                )
            ],
            "2026-06-28": [
                (
                    "Evening",
                    "I do a weekly review every Sunday evening. Twenty minutes, three questions, one page. It is the"
                    " most useful habit I have.",
                )
            ],
        },
        long_run_km=(8, 11),
    )
)

# -- July 2026 ----------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-07",
        {
            "work": "timezone bugs in the migration",
            "project": "the SQLite decision",
            "running": "the first long runs",
            "dutch": "separable verbs",
        },
        {
            "weather": _SUMMER,
            "page_topic": [
                "timezones",
                "Tidewatch",
                "the estimate",
                "long runs",
                "the holiday",
                "saying no",
            ],
            "work": [
                "[Another|One more] timezone bug: the old service stores local time without an offset. [Of course it does.|Naturally.|Again.]",
                "Wrote a failing test for [the DST edge case|the midnight case|the Sunday case|the last-day-of-month case] before touching the code. [It failed exactly as expected.|It failed, then passed.|Red first.]",
                "Shadow traffic shows {count} mismatches an hour, [all|almost all|most] from [the timezone path|one offset bug|local times].",
                "Tom found [a second|another] offset bug in [the invoice export|the ETA report|the driver app|the depot schedule]. [Same root cause, different costume.|Same bug, new place.|We laughed, then we fixed it.]",
                "[Wrote|Started|Extended] the runbook for the cutover before the code was done. It exposed {few} open questions.",
                "Mismatches down to {count} an hour. [Slow progress is still progress.|The graph is almost flat.|Next: the Sunday cases.]",
                "{long_time} in a design review that should have been a comment thread.",
                "Explained the offset bug to {people_at_work} with a drawing. [They got it.|Drawings win.|Two clocks and an arrow.]",
                "[Fixed|Patched] {few} timezone paths[ in the depot code| in the billing client|]. [Tests first, every time.|Shadow traffic agrees.]",
                "Priya asked how sure the estimate is. [Same range, fewer assumptions.|Still 10 to 14, with one risk crossed off.]",
            ],
            "code_area": [
                "the timezone path",
                "the shadow traffic compare",
                "the DST tests",
                "the offset fix",
            ],
            "net_subject": [
                "the migration",
                "the mismatches",
                "the timezone work",
                "shadow traffic",
            ],
            "project": [
                "Tidewatch: [added|drew] the slack-water marker on the curve. [Ugly, correct.|Better than I hoped.|Needs colour.]",
                "Evening on Tidewatch's [schema|importer|test data|station list]. {count} stations loaded[, {few} broken|].",
                "Tidewatch: [wrote|rewrote] the importer [as a small script|in one evening|with tests]. [It reads every station now.|Boring code, good code.]",
                "Tidewatch: [compared|checked] predictions for [Vlissingen|Den Helder|Harlingen] against the table. Off by {minutes} minutes[ at low water|].",
                "Tidewatch: Postgres or SQLite? [Wrote both options down.|Listed what each one costs.] [Leaning SQLite.|Not decided yet.|Sleeping on it.]",
                "Tidewatch: the database question again. [One file or a server?|What would I pick for a friend's app? The simple thing.]",
            ],
            "run": [
                "Long run: {km} km[ along {route}|]. [Legs fine, head bored after ten.|Steady.|The last two were hard.]",
                "Intervals: [6|5|8] x [800 m|600 m|400 m]. [The last two hurt in the honest way.|Even splits, for once.|Hot, hard, done.]",
                "Easy {km} km along {route}, [early, before the heat|late, after the heat|in a warm drizzle].",
                "Tempo run: {few} km at half-marathon pace inside {km} km. [Controlled.|Almost controlled.|Too fast at first.]",
                "{km} km [with the club|alone|with a podcast] along {route}. [Warm.|Humid.|Fine.]",
            ],
            "dutch": [
                "Separable verbs: [opbellen, meenemen, aankomen|uitgaan, opruimen, afspreken]. The prefix runs off to the end of the sentence.",
                "Read a children's book in Dutch without a dictionary. [Small win, still a win.|Forty pages.|Understood the plot, mostly.]",
                "Dutch class: [the perfect tense|'hebben' or 'zijn'|past participles|irregular verbs]. [More rules than exceptions, barely.|Homework took an hour.|I need a table on the fridge.]",
                "Spoke Dutch with the neighbour for {small_time}. [She slowed down for me. Kind.|She corrected my verbs, kindly.|About the heat, mostly.]",
            ],
            "ingrid_news": [
                "The kitchen is done. She sent {count} photos of the same tiles.",
                "She wants me on the fjord in August. Yes.",
                "Bergen is warm for once. She is suspicious of it.",
            ],
            "jonas_plan": ["the Oosterschelde", "a night paddle", "the August weekend"],
            "book": ["The Pragmatic Programmer", "a Dutch children's book", "a book on tides"],
            "tomorrow": [
                "shadow traffic numbers",
                "Dutch homework — separable verbs",
                "intervals, then work",
                "test for the DST case",
                "Tidewatch: the schema",
            ],
            "review_good": [
                "Mismatches in shadow traffic went down every day.",
                "Long runs feel normal now.",
                "The range estimate survived its first argument.",
            ],
            "review_bad": [
                "Too many evenings on the laptop.",
                "I skipped a Dutch class for a bug that could have waited.",
                "The runbook still has open questions.",
            ],
            "focus": ["the timezone fixes", "shadow traffic", "Tidewatch's schema", "the runbook"],
            "dutch_next": [
                "separable verbs",
                "a page of reading a day",
                "the homework before Monday",
            ],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2026-07-03": [
                (
                    "Work",
                    "Priya, who leads the team, asked for one number for the migration. Gave her 10 to 14 weeks and the three"
                    " assumptions."
                    " See [[Estimates as ranges]].",
                )
            ],
            "2026-07-14": [
                (
                    "Tidewatch",
                    "Decided: SQLite for Tidewatch. One file, no server, backups are a copy."
                    " See [[2026-07-14 SQLite for Tidewatch]]. #decision",
                )
            ],
            "2026-07-20": [
                (
                    "Tidewatch",
                    "Tidewatch: fixed the slack-water bug. It was interpolating across midnight wrong. Failing test first,"
                    " then a six-line diff.",
                )
            ],
            "2026-07-22": [
                (
                    "Evening",
                    "'Slim' means clever in Dutch, not thin. I have been complimenting people wrong for a month.",
                )
            ],
            "2026-07-25": [
                (
                    "Tidewatch",
                    "Paddled the Oosterschelde with Jonas and checked Tidewatch against reality. Off by eleven minutes"
                    " at slack water.",
                )
            ],
        },
        after=(
            (
                "2026-07-15",
                {
                    "project": [
                        "Tidewatch: [added|drew] the slack-water marker on the curve. [Ugly, correct.|Better than I hoped.|Needs colour.]",
                        "Evening on Tidewatch's [schema|importer|test data|station list]. {count} stations loaded[, {few} broken|].",
                        "Tidewatch: [wrote|rewrote] the importer [as a small script|in one evening|with tests]. [It reads every station now.|Boring code, good code.]",
                        "Tidewatch: [compared|checked] predictions for [Vlissingen|Den Helder|Harlingen] against the table. Off by {minutes} minutes[ at low water|].",
                        "Tidewatch: tide heights now cached per station per [day|week]. [Startup is instant.|Much faster.|No more spinner.]",
                        "Tidewatch: tests went from {seconds} seconds to under one[ after the move to SQLite|, thanks to SQLite|].",
                        "Tidewatch: one table per station was a mistake. One table, a station column. [Fixed.|Obvious now.|Should have known.]",
                        "Tidewatch: SQLite [file|database] is {count} MB for all stations. [Fine.|Smaller than a photo.]",
                    ],
                },
            ),
        ),
        long_run_km=(10, 14),
    )
)

# -- August 2026 ---------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-08",
        {
            "work": "an on-call week and a queue backlog",
            "project": "offline mode",
            "running": "16 km long runs",
            "dutch": "a break while in Bergen",
        },
        {
            "weather": _SUMMER,
            "page_topic": [
                "Bergen",
                "on-call",
                "the cutover",
                "offline mode",
                "family",
                "being a lead",
            ],
            "work": [
                "On call[ this week|]: {count} pages so far, [one real incident|none real|two real ones].",
                "On-call [handover notes|log] [started|updated]: [{count} entries|two pages|short, so far].",
                "Quiet [morning|afternoon] in the migration code between pages. [Deleted {count} dead flags.|Renamed the confusing bits.|Good.]",
                "[Cleaned up|Finished|Tuned] the shadow traffic compare. Mismatches at {few} a day.",
                "Logs should say what happened. [Added context to {count} log lines.|Rewrote the worst {count} of them.|Fixed {count} vague ones.]",
            ],
            "code_area": [
                "the consumer retry logic",
                "the alerting",
                "the dead-letter queue",
                "the cutover plan",
            ],
            "net_subject": ["on-call", "the migration", "the cutover plan", "the alerting"],
            "project": [
                "Tidewatch offline mode: precompute a year of tides per station. {count} KB per station. [Fine.|Tiny.|Good enough.]",
                "Tidewatch: the sync code is [half the app now|bigger than the maths|a second app]. [That is a smell.|Not good.] [Simplified it to download-only.|Cutting it.]",
                "Tidewatch: [offline|download] test on a phone in flight mode. [Worked.|Worked, after one fix.|One screen blank.]",
                "Tidewatch: [fewer|simpler] screens again. [One number matters.|The main screen is the app.|Deleted the settings page.]",
                "Tidewatch: [station download|the year file|the update check] [works|is done|has tests]. [Small step.|Boring, good.]",
            ],
            "run": [
                "16 km long run[ along {route}|]. [Fuelled properly this time. Difference is obvious.|Gel at 8 km this time.|Long, slow, fine.]",
                "Long run: {km} km[ along {route}|], the last {few} faster.",
                "Easy {km} km in the [heat|evening cool|drizzle|wind]. [Enough.|Good.|Sweaty.]",
                "Intervals in the [heat|rain|evening]: [5|6] x [1 km|800 m]. [Done.|Hard.|Slower than July.]",
            ],
            "bergen": [
                "[Walked|Hiked] up [Fløyen|Ulriken] with Ingrid. [Rain at the top, of course.|Clear all the way to the sea.]",
                "[Breakfast|Coffee] at the harbour[ with Ingrid|]. [Fish market smells. Home smells.|Too many tourists. Still home.]",
                "Long run in Bergen: {km} km with hills I had forgotten about.",
                "Paddled on the fjord with Ingrid. [She asked why Tidewatch has no wind.|Cold water, bright day.]",
                "Norwegian came back instantly — languages are stored somewhere safe.",
                "Did nothing for a whole afternoon at the cabin. [Books, rain, coffee.|Hard, then easy.]",
            ],
            "dutch": [
                "Dutch [homework|flashcards] on the tram[ home|]. [Slow, but I did it.|Ten minutes, better than none.|Rusty.]",
                "Dutch class after the break: [rusty, not broken|half the class forgot everything, me too|new teacher, same verbs].",
                "Dutch: [the teacher|a classmate] asked about Bergen[ in Dutch|]. [Answered in three languages at once.|I managed, slowly.]",
                "Dutch class: [reflexive verbs|the future with 'gaan'|'zullen' and 'gaan']. [Clear, for once.|Homework for Wednesday.|Fair enough.]",
            ],
            "ingrid_news": [
                "She misses the summer already.",
                "She wants Tidewatch for the fjord. With wind.",
            ],
            "jonas_plan": ["a weekend on the Oosterschelde", "September paddling", "his new kayak"],
            "book": ["a Jo Nesbø on the ferry", "a book on tides"],
            "tomorrow": [
                "hand over on-call",
                "postmortem draft",
                "long run, early",
                "offline mode test",
            ],
            "review_good": [
                "A week in Bergen and I did not open the laptop once.",
                "The ferry was the best office of the year.",
                "Long runs with hills.",
            ],
            "review_bad": [
                "Coming back is always harder than leaving.",
                "I ate too much brown cheese.",
            ],
            "focus": ["the cutover plan", "the postmortem actions", "offline mode"],
            "dutch_next": ["back to class", "the reading I skipped"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2026-08-01": [
                (
                    "Morning",
                    "Ferry day. Worked on Tidewatch on the deck — best office I have had in months.",
                )
            ],
            "2026-08-10": [
                (
                    "Work",
                    "Back from Bergen to sixty-two unread threads. Read none of them, wrote one summary.",
                )
            ],
            "2026-08-13": [
                (
                    "Work",
                    "On call: paged at 3:00 for a queue backlog — one consumer stuck on a poisoned message. Fixed by five,"
                    " slept until eight.",
                )
            ],
            "2026-08-14": [
                (
                    "Work",
                    "Wrote the postmortem. Blameless, specific, short. Logs should say what happened.",
                )
            ],
            "2026-08-20": [
                (
                    "Work",
                    "Priya asked me to lead the cutover. Said yes, then wrote down what yes means."
                    " See [[2026-08-20 Lead the cutover]].",
                )
            ],
        },
        away=(("2026-08-01", "2026-08-09"),),
        after=(
            (
                "2026-08-15",
                {
                    "work": [
                        "Added a dead-letter queue and an alert that names the message type. [Small change, big relief.|Should have existed years ago.]",
                        "[Postmortem actions|The postmortem review]: the alert said 'queue high', not which queue or why. [Fixed now.|Two actions left.]",
                        "Handed over on-call with a written log. [Nobody had questions.|Tom read all of it.|Two pages.]",
                        "Planning for the cutover: [a date|a rollback switch|a go/no-go list|a comms plan] on paper[ first|].",
                        "[Rehearsed|Discussed] the rollback with {people_at_work}. [It takes four minutes.|One step was missing.|Written down now.]",
                        "Logs should say what happened. [Added context to {count} log lines.|Rewrote the worst {count} of them.|Fixed {count} vague ones.]",
                        "[Cleaned up|Finished|Tuned] the shadow traffic compare. Mismatches at {few} a day.",
                    ],
                    "tomorrow": [
                        "cutover plan, first draft",
                        "postmortem actions",
                        "long run, early",
                        "offline mode test",
                    ],
                    "review_good": [
                        "The alert now names the message type.",
                        "The long run reached 16 km.",
                        "The cutover plan fits on one page.",
                    ],
                    "review_bad": [
                        "The 3:00 page wrecked two days, not one.",
                        "I said yes to the cutover before thinking about the on-call overlap.",
                    ],
                },
            ),
        ),
        long_run_km=(14, 16),
    )
)

# -- September 2026 ------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-09",
        {
            "work": "the migration cutover",
            "project": "the beta for five kayaker friends",
            "running": "peak weeks, then the taper",
            "dutch": "the B1 exam",
        },
        {
            "weather": _AUTUMN,
            "page_topic": [
                "the cutover",
                "the exam",
                "moving",
                "the beta",
                "boxes",
                "being a lead",
            ],
            "work": [
                "Cutover rehearsal [on staging|number two|with the whole team]: [clean except for a retry storm|clean|one surprise, documented]. [Rate limit added.|Runbook updated.|Good.]",
                "Go/no-go list [reviewed|signed off|shortened] with Priya. [Nothing open.|One item left.|Two items moved to after.]",
                "[Walked|Talked] {people_at_work} through the rollback switch. [They asked good questions.|It took ten minutes.]",
                "Timezone bug number [nine|ten|eleven] found in [the old reports|an export nobody uses]. [Fixed before the cutover.|Not ours anymore.]",
                "[Checked|Rechecked] the shadow traffic numbers: [zero mismatches for {few} days|{few} mismatches, both explained].",
                "Cutover [date|plan|comms] sent to [every team|the {team} team|all consumers]. [Nobody objected.|Two questions, answered.]",
            ],
            "code_area": [
                "the cutover runbook",
                "the rollback switch",
                "the feature flags",
                "the new routing service",
            ],
            "net_subject": ["the cutover", "the migration", "the clean-up", "the runbook"],
            "project": [
                "Tidewatch: getting the beta ready. [{few} testers lined up.|Build signed.|Crash reporting in.]",
                "Tidewatch: [wrote|rewrote] the beta instructions. [One page.|Five steps.|For people who paddle, not people who code.]",
                "Tidewatch: [last|one more] fix before the beta — [the date parser|the station list|a crash on start].",
            ],
            "run": [
                "Last long run before the taper: {km} km at goal pace for the middle {few}.",
                "{km} km easy along {route}. [The legs feel new.|Light legs.|Tired legs, easy pace.]",
                "Long run: {km} km, [the longest yet|steady|in the rain]. [Done.|Proud of that one.|Hard last kilometre.]",
                "Intervals, short ones[ along {route}|]. [Sharp.|Quick and done.|Better than August.]",
                "[Slow|Easy] {km} km [between boxes|after packing|before the exam]. [Needed it.|Head cleared.]",
            ],
            "dutch": [
                "Exam practice: [a timed letter|a speaking drill|listening tests|a reading test]. [Writing is still the weak part.|Better than last week.|Rushed.]",
                "Dutch class: the teacher says I am ready for B1. [Is that true? Mostly.|I believe her, mostly.]",
                "Wrote a practice letter to [a landlord|the council|a neighbour] in Dutch. [Fitting, this month.|Forty minutes.|Too formal.]",
                "Dutch: [flashcards|old exam papers|a podcast] on the [tram|balcony|sofa]. [{small_time}.|Enough.]",
            ],
            "evening_month": [
                "{evening_item}",
                "Packed [books|the kitchen|the kayak gear] into boxes. {count} boxes so far.",
                "Took [a car of books|the plants|old clothes] to [a friend|the charity shop]. [Lighter.|Good.]",
            ],
            "ingrid_news": [
                "She wants photos of the new flat. Not yet.",
                "She is coming in November for her birthday. Good.",
            ],
            "jonas_plan": [
                "the van for moving day",
                "the last paddle of summer",
                "a beta test on the water",
            ],
            "book": ["a Dutch newspaper", "a novel, slowly"],
            "tomorrow": [
                "one-page plan for the cutover",
                "Dutch: a timed letter",
                "answer the beta emails",
                "pack the books",
                "easy run, early",
            ],
            "review_good": [
                "Rehearsals went clean.",
                "The runbook is finished.",
                "The go/no-go list is short.",
                "The beta found real bugs before strangers did.",
            ],
            "review_bad": [
                "Too much at once: cutover, exam, move.",
                "Sleep was short all week.",
            ],
            "focus": ["the retro", "the beta bugs", "the move", "the exam"],
            "dutch_next": ["exam prep", "rest after the exam", "reading for fun"],
        },
        events={
            "2026-09-05": [
                (
                    "Tidewatch",
                    "Tidewatch beta out to five kayaker friends. Two bug reports by evening, both real.",
                )
            ],
            "2026-09-08": [
                (
                    "Work",
                    "Wrote the cutover runbook: go/no-go checks, steps, rollback. Who decides: me.",
                )
            ],
            "2026-09-17": [
                (
                    "Work",
                    "Cutover night. Flipped traffic at 22:00, watched dashboards until 1:30. Zero mismatches.",
                )
            ],
            "2026-09-22": [
                (
                    "Work",
                    "Decommissioned the old routing service. Nine thousand lines of code deleted — best diff of the year.",
                )
            ],
            "2026-09-24": [
                (
                    "Evening",
                    "The Dutch B1 exam on 24 September, finally today. Speaking went well, writing was rushed."
                    " Is that a problem? We will see.",
                )
            ],
            "2026-09-25": [
                (
                    "Work",
                    "Retro for the migration. The range estimate held: we landed in twelve weeks, inside 10 to 14.",
                ),
                (
                    "Evening",
                    "Passed the B1 exam. Writing was the weakest part, as expected. #dutch/progress",
                ),
            ],
        },
        after=(
            (
                "2026-09-05",
                {
                    "project": [
                        "Tidewatch beta: [two|three|four] bug reports [today|this week], [all real|one real|both small].",
                        "Tidewatch: Jonas wants current arrows on the map[ again|]. Added to the list, not to the beta.",
                        "Tidewatch crash on older Android phones. [The date parser again — dates are always the bug.|Dates, as always.|Fixed by bedtime.]",
                        "Beta feedback: people want the next slack water, not the next high. [Changed the main screen.|They are right.|Obvious in hindsight.]",
                        "Tidewatch: {few} testers opened it on the water [this weekend|on Saturday]. [One thank-you.|No crashes.|One crash, one fix.]",
                        "Tidewatch: [fixed|shipped] beta build {count}. [Three lines of change.|Small fix, long test.]",
                    ],
                },
            ),
            (
                "2026-09-18",
                {
                    "review_good": [
                        "Cutover done, zero mismatches.",
                        "Boxes packed without drama.",
                        "The beta found real bugs before strangers did.",
                    ],
                    "work": [
                        "Cleaned up {count} feature flags after the cutover. [Quiet work, good work.|Deleting is underrated.|Satisfying.]",
                        "Answered {count} questions about the new routing service. [Wrote a FAQ.|Each answer went into the docs.|Same question, three times.]",
                        "Dashboards [flat|boring|green] all day. [Boring is the goal.|Exactly right.|I checked anyway.]",
                        "[Drafted|Wrote] the retro questions. [What worked, what did not, what next.|Three questions, no blame.]",
                        "Wrote down what worked: [small PRs, written plans, shadow traffic, a runbook first|plans on paper and a rollback switch].",
                        "[Slept|Caught up] after the cutover week. [Still tired.|Better.] {question}",
                    ],
                },
            ),
            (
                "2026-09-25",
                {
                    "review_good": [
                        "Cutover done, zero mismatches.",
                        "The exam is behind me.",
                        "Moved without breaking anything but a mug.",
                    ],
                    "dutch": [
                        "Dutch after the exam: [a comic|the newspaper|a detective novel] for fun. [No homework.|Slowly.|Lovely.]",
                        "Last evening of the B1 course. [Drinks with the class.|The teacher said goodbye in three languages.]",
                    ],
                },
            ),
        ),
        long_run_km=(14, 18),
    )
)

# -- October 2026 ----------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-10",
        {
            "work": "looking back on leading the migration",
            "project": "the v0.1 launch",
            "running": "race week",
            "dutch": "reading the newspaper slowly",
        },
        {
            "weather": _AUTUMN,
            "page_topic": ["the race", "Delft", "the launch", "leading", "rest", "what next"],
            "work": [
                "Onboarding Sam: [gave him the one-page docs instead of a tour of the code|walked him through the routing service|paired on his first ticket]. [He had good questions.|He read all of it.|He asks why, which is good.]",
                "[Started|Continued|Reworked] the capacity plan for next year. Ranges again[, with the assumptions written beside them|, three scenarios|].",
                "Review day: {count} small PRs, all merged by [lunch|three]. [This is what good looks like.|Smooth.|More of this.]",
                "A planning meeting with an agenda, a timebox and a decision. [Miracles happen.|Rare. Noted.|Priya ran it well.]",
                "Wrote a short note on leading without a title. [Mostly: write things down, then ask.|Three points, one page.]",
                "Sam's first [PR|fix|test]: {count} lines, tests included. [Approved in ten minutes.|Good instincts.|One comment, from me.]",
                "Priya asked what I would do differently as lead. [Honest answer: say no earlier, in writing.|Fewer meetings, more notes.]",
                "{meeting_kind} about next quarter — {meeting_verdict}.",
                "Closed {count} old tickets from the migration. [Nobody will miss them.|The backlog looks honest now.]",
            ],
            "code_area": [
                "the capacity plan",
                "Sam's first service",
                "the routing docs",
                "old tickets",
            ],
            "net_subject": [
                "the capacity plan",
                "onboarding",
                "the quiet week",
                "the routing docs",
            ],
            "project": [
                "Tidewatch v0.1 release checklist: {count} items, [most of them boring|all of them necessary]. [Ticked off {few}.|Half done.|Three left.]",
                "Tidewatch: wrote the README as if for a stranger. Found [three|{few}] things I never explained.",
                "Tidewatch: [store listing|screenshots|the privacy note|the icon] done. [Boring. Necessary.|Small, correct.|Finally.]",
                "Tidewatch: [last|final] bug before v0.1 — [a rounding error|a time zone, of course|a crash on rotate|a typo in a station name].",
                "Tidewatch: [tested|checked] the release build on [three|two] phones. [All fine.|One crash, fixed.]",
            ],
            "run": [
                "Taper run: {km} km easy[ along {route}|]. [Restless legs.|Too easy. That is the point.|Fresh.]",
                "{km} km along {route}[ in the rain| in the wind|]. [Easy.|Fine.|Cold hands.]",
                "Short run with strides[ along {route}|]. [Sharp.|Ready.|Quick.]",
                "[Last|Final] long-ish run: {km} km[ along {route}|]. [The plan is done. Now wait.|Good legs.]",
            ],
            "dutch": [
                "Read a whole NRC article in Dutch over breakfast. Slowly. All of it.",
                "Dutch: no class until the B2 course. Reading [a Dutch novel|the newspaper] instead.",
            ],
            "ingrid_news": [
                "She wants the race result in seconds. 1:47 is not enough detail for her.",
                "Her birthday plans for November. She is coming to Delft.",
            ],
            "jonas_plan": ["a launch drink for Tidewatch", "winter paddling gear", "a drysuit"],
            "book": ["a Dutch novel", "The Pragmatic Programmer, again"],
            "tomorrow": [
                "write the README as if for a stranger",
                "easy run, nothing more",
                "capacity plan: first ranges",
                "Tidewatch release checklist",
            ],
            "review_good": [
                "Sam is settling in.",
                "The taper is working.",
                "The README is written.",
            ],
            "review_bad": [
                "I have not unpacked the last three boxes.",
                "Too much screen in the evenings.",
            ],
            "focus": ["the capacity plan", "the launch", "rest", "unpacking"],
            "dutch_next": ["one article a day", "the B2 course sign-up"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2026-10-18": [
                (
                    "Run",
                    "Maas half marathon: 1:47:38. Negative split. Cried a little at 19 km, for no reason. #running/log",
                )
            ],
            "2026-10-30": [
                (
                    "Tidewatch",
                    "Shipped Tidewatch v0.1. Small, correct, offline. Net: done is a feature.",
                )
            ],
            "2026-10-31": [
                (
                    "Tidewatch",
                    "Tidewatch: first email from a stranger who used it in Zeeland. Read it three times.",
                )
            ],
        },
        after=(
            (
                "2026-10-12",
                {
                    "tomorrow": [
                        "pick up the race number",
                        "early night",
                        "easy run, nothing more",
                        "pin the number on the shirt",
                    ],
                    "run": [
                        "Race week. [Short runs, early nights, no new shoes.|Short runs, no heroics.|Sleep is the training now.]",
                        "Shakeout run: {km} km[ along {route}|]. [Legs ready.|Nervous legs.|Calm.]",
                    ],
                },
            ),
            (
                "2026-10-19",
                {
                    "review_good": [
                        "The half marathon went to plan.",
                        "Sam is settling in.",
                        "The launch checklist is nearly done.",
                    ],
                    "tomorrow": [
                        "answer the launch emails",
                        "Tidewatch release checklist",
                        "capacity plan: first ranges",
                        "easy run, nothing more",
                    ],
                    "run": [
                        "First run after the race: {km} km very slowly. [Grateful legs.|Stiff, happy.|No watch.]",
                        "Recovery run: {km} km along {route}. [No plan, on purpose.|Slow and happy.]",
                        "{km} km easy[ in the rain|]. [The legs are back.|Nearly recovered.]",
                    ],
                },
            ),
        ),
        long_run_km=(6, 12),
        dutch_class=False,
    )
)

# -- November 2026: first month of the drift -----------------------------------------------------------------
_month(
    Month(
        "2026-11",
        {
            "work": "the customs declarations service, back to writing code",
            "project": "Tidewatch after v0.1: strangers' bug reports",
            "running": "recovery and a winter base",
            "dutch": "the B2 course",
        },
        {
            "weather": _AUTUMN,
            "page_topic": [
                "the new project",
                "winter",
                "Tidewatch users",
                "the B2 course",
                "Delft",
                "Ingrid's visit",
            ],
            "work": [
                "Customs service: [parsed|mapped|validated] {count} kinds of declaration [today|this week]. [The rules are older than me.|Each has its own exception.|Two contradict each other.]",
                "Back to writing code all day. [I missed it.|My hands remembered.|Fewer meetings, more diffs.]",
                "Tom leads the customs service and I own the parser. [Clear split.|Good split.|Written down, of course.]",
                "Read the EU customs spec for {long_time}. [It contradicts itself twice.|Dry. Necessary.|Took notes in the margin.]",
                "The parser [choked on|rejected|accepted, wrongly,] a declaration with {count} line items. [Test written first.|Found why.|Fixed after lunch.]",
                "Sinterklaas at work: drew a name for the poem. [Sam.|Priya.|Tom.] [Panic.|Rhymes are hard in two languages.]",
                "[Wrote|Extended] the fixtures: {count} real declarations, [anonymised|trimmed|checked by hand]. [Boring. Essential.|The tests read like a museum now.]",
                "Explained the parser to {people_at_work}[ with a drawing|]. [They found a case I missed.|Good questions.]",
                "[Timed|Profiled] the parser on a big file. [{count} seconds. Too slow.|Fast enough, for now.]",
            ],
            "code_area": [
                "the declaration parser",
                "the customs rules",
                "the XML schema",
                "the test fixtures",
            ],
            "net_subject": ["the parser", "the customs service", "the week", "the fixtures"],
            "project": [
                "Tidewatch: {count}0 users now, [mostly Zeeland|some in Denmark|one in Scotland]. [Strange feeling.|Nice feeling.]",
                "Tidewatch: a bug report from a stranger, [precise|polite|with screenshots]. [Fixed in an evening.|Fixed it.|Replied first, then fixed.]",
                "Tidewatch: Ingrid wants Norwegian stations. [Looked at the data.|The Norwegian data is good.] {count} stations to start.",
                "Tidewatch: v0.2 plan on one page: current arrows, Norwegian stations, nothing else.",
                "Tidewatch: [answered|sorted] {few} emails from users. [All polite.|One wants wind. No.]",
            ],
            "run": [
                "Recovery run: {km} km along {route}, [slow and happy|in the dark|with a headlamp].",
                "{km} km in the [cold|wind|rain] along {route}. [Winter base, they call it.|Boring. Good.|Wet feet.]",
                "Easy {km} km before the train. [Dark the whole way.|Headlamp on.|Frost on the path.]",
                "Lunch run at the office: {km} km along the Maas. [Daylight, finally.|The old route, from the other side.]",
            ],
            "dutch": [
                "B2 course: [the passive voice|formal letters|'zou' and 'zouden'|relative clauses]. [Harder than B1.|More grammar, less fear.|Homework for Wednesday.]",
                "Dutch class: wrote a formal complaint letter. [The teacher liked the tone.|Too polite, she said.|It was about a bike.]",
                "Dutch: read the Volkskrant for {small_time} [on the train|over breakfast]. [Understood most of it.|Slowly.]",
                "Dutch class: [a debate about bikes|a role play at the council|listening to the news]. [I spoke twice.|I mostly listened.]",
            ],
            "ingrid_news": [
                "Her birthday visit is on. She wants to see the bakery.",
                "She wants to know if Delft is 'cosy'. It is.",
                "Bergen has had rain for {count} days. She is fine with that.",
            ],
            "jonas_plan": [
                "winter paddling in drysuits",
                "a walk on the beach at Scheveningen",
                "a launch drink, finally",
            ],
            "book": [
                "a Dutch novel",
                "the EU customs spec, sadly",
                "A Philosophy of Software Design",
            ],
            "tomorrow": [
                "parser: the line-item bug",
                "Dutch homework — the passive",
                "easy run, headlamp",
                "buy Ingrid's present",
                "Tidewatch: answer the bug reports",
            ],
            "review_good": [
                "Writing code again felt right.",
                "Tidewatch has users I have never met.",
                "The B2 course is hard in the good way.",
            ],
            "review_bad": [
                "Dark mornings make the pages slower.",
                "I skipped two runs for the weather.",
            ],
            "focus": ["the parser", "Tidewatch v0.2", "the B2 homework", "Ingrid's visit"],
            "dutch_next": ["the passive voice", "one article a day", "speaking in class"],
            "evening_month": [
                "{evening_item}",
                "Bought bread from the bakery downstairs and talked to the baker in Dutch. [Slowly.|He was patient.]",
            ],
        },
        events={
            "2026-11-02": [
                (
                    "Work",
                    "Kickoff for the customs declarations service at Kestrel Freight. Not leading this one — one season"
                    " was the deal. Back to writing code.",
                )
            ],
            "2026-11-09": [
                (
                    "Evening",
                    "First evening of the B2 course. Twelve people, one teacher, a lot of grammar.",
                )
            ],
            "2026-11-14": [
                (
                    "Evening",
                    "Ingrid's birthday. She came to Delft and approved of the bakery downstairs.",
                )
            ],
        },
        long_run_km=(8, 12),
    )
)

# -- December 2026 ------------------------------------------------------------------------------------------------
_month(
    Month(
        "2026-12",
        {
            "work": "customs parser edge cases and the year-end freeze",
            "project": "current arrows for Tidewatch v0.2",
            "running": "dark runs, then snow in Bergen",
            "dutch": "Sinterklaas poems and a Christmas break",
        },
        {
            "weather": _WINTER,
            "page_topic": [
                "the year",
                "Christmas in Bergen",
                "the parser",
                "current arrows",
                "rest",
                "next year",
            ],
            "work": [
                "Parser: [a declaration with a negative weight|dates in three formats|a line item with no country|a currency nobody uses]. [Rejected, with a reason.|Test first, then the fix.|Logged and skipped.]",
                "Code freeze from the 18th. [Everyone is rushing. I am not.|Merged the last small PR early.|Quiet code, loud calendar.]",
                "Wrote the parser's error messages [again|properly]: what happened, where, what to do.",
                "Sinterklaas poem read aloud at work. [It rhymed in Dutch, mostly.|Sam laughed, so it worked.]",
                "{meeting_kind} about next year. [Ranges again.|I asked for the assumptions first.|Short.]",
                "Helped Sam with his first customs rule. [He wrote the test first without being asked.|Good instincts.]",
                "[Cleaned up|Deleted] {count} TODOs before the freeze. [Most were mine.|Half were obsolete.]",
                "Year-end [demo|review] of the parser for {people_at_work}. [Nobody asked about the code.|Good questions about dates.]",
            ],
            "code_area": [
                "the parser's error messages",
                "the date formats",
                "the year-end release",
                "Sam's rule",
            ],
            "net_subject": ["the parser", "the year", "the freeze", "the customs service"],
            "project": [
                "Tidewatch: current arrows prototype. [They point the right way, mostly.|Ugly and correct.|Too big on the screen.]",
                "Tidewatch: computed currents for {count} stations. [The maths holds.|Two look wrong.]",
                "Tidewatch: winter means few paddlers and few bug reports. [Good time to build.|Quiet.]",
                "Tidewatch: tested the arrows against the Oosterschelde tables. Off by {minutes} minutes at the turn.",
                "Tidewatch: [one|a] colour for the arrows, [blue|grey|dark green]. [Decided in a minute.|Argued with myself for an hour.]",
            ],
            "run": [
                "{km} km in the dark along {route}. [Headlamp, gloves, no regrets.|Cold hands, warm head.]",
                "Short run in the sleet. {km} km. [Counts.|Still counts.]",
                "Snow run in Bergen: {km} km, [slow|slipping|grinning].",
            ],
            "bergen": [
                "Christmas in Bergen. [Ingrid's kitchen is finished, and it is full.|Snow on the mountains, rain in town.]",
                "Walked [up Fløyen|along Bryggen] in the snow[ with Ingrid|]. [Quiet.|Beautiful, cold.]",
                "Made oliebollen for Ingrid. [A Dutch thing in a Norwegian kitchen.|They were gone in ten minutes.]",
                "Norwegian all day. The Dutch words kept slipping in anyway.",
            ],
            "dutch": [
                "Dutch class: Sinterklaas traditions, then the passive again. [Both hard.|Both fun.]",
                "Last Dutch class of the year. [The teacher gave us a list for the break.|Homework for Christmas.]",
            ],
            "ingrid_news": [
                "She is planning Christmas like a project. I recognise that.",
                "She asked for Dutch cheese.",
            ],
            "jonas_plan": ["a New Year's paddle", "drysuit shopping", "the spring trip"],
            "book": ["a Dutch novel", "a book about the sea"],
            "tomorrow": [
                "parser: date formats",
                "Dutch homework",
                "nothing. Rest",
                "Tidewatch: arrows at one more station",
                "long run in the dark",
            ],
            "review_good": [
                "The parser's error messages are good now.",
                "Current arrows work at one station.",
                "Rested properly for once.",
            ],
            "review_bad": [
                "The freeze week was louder than it needed to be.",
                "Fewer runs in the dark than planned.",
            ],
            "focus": ["the holidays", "current arrows", "the freeze"],
            "dutch_next": ["the Christmas list", "reading over the break"],
            "evening_month": [
                "{evening_item}",
                "Baked a kerststol. [Dense, sweet, Dutch.|The baker downstairs approved.]",
            ],
        },
        events={
            "2026-12-05": [
                (
                    "Evening",
                    "Pakjesavond at Jonas's. Everyone's poem made fun of everyone. Gezellig.",
                )
            ],
            "2026-12-18": [
                ("Evening", "The baker downstairs will feed Gus while I am in Bergen. Trust.")
            ],
        },
        away=(("2026-12-19", "2026-12-31"),),
        after=(
            (
                "2026-12-14",
                {
                    "tomorrow": [
                        "pack for Bergen",
                        "hand Gus to the baker downstairs",
                        "parser: date formats",
                        "last Dutch homework of the year",
                    ],
                },
            ),
        ),
        long_run_km=(8, 12),
    )
)

# -- January 2027 -------------------------------------------------------------------------------------------------
_month(
    Month(
        "2027-01",
        {
            "work": "the customs service's first release",
            "project": "Tidewatch v0.2 with current arrows",
            "running": "a spring half-marathon plan",
            "dutch": "B2 writing practice",
        },
        {
            "weather": _WINTER,
            "page_topic": [
                "the new year",
                "the release",
                "current arrows",
                "the spring half",
                "writing in Dutch",
            ],
            "work": [
                "Customs service: [the first terminal|one terminal|a pilot at one terminal] goes live [this month|soon]. [Runbook first.|Written plan first.]",
                "Load test with {count}0 declarations a minute. [The parser held.|One queue did not.]",
                "Sam's first on-call week. [I am his backup.|He asked good questions.|Quiet so far.]",
                "Wrote the release runbook for the customs service. [Same shape as the cutover one.|It worked once.]",
                "[Fixed|Found] a slow query in the rules table. [From seconds to milliseconds.|Index, of course.]",
                "{meeting_kind} about the release — {meeting_verdict}.",
                "Go/no-go for the first terminal [reviewed|agreed] with Tom. [Two items open.|Nothing open.]",
                "Read the terminal's own docs for {long_time}. [They store local times too.|Old friends: timezones.]",
            ],
            "code_area": [
                "the release runbook",
                "the load test",
                "the rules table",
                "Sam's on-call notes",
            ],
            "net_subject": ["the release", "the customs service", "the load test", "the week"],
            "project": [
                "Tidewatch v0.2: current arrows on the main screen. [Jonas approves.|Finally.|Small and clear.]",
                "Tidewatch: {count} Norwegian stations in. Ingrid can paddle with it now.",
                "Tidewatch: someone offered to pay. [Said no, for now.|Thanked them. Not yet.]",
                "Tidewatch: release notes for v0.2, [short|three lines|one page].",
                "Tidewatch: [fixed|found] an arrow pointing the wrong way at [Harlingen|Den Helder]. [Sign error.|Phase error.]",
            ],
            "run": [
                "Intervals on the track in Delft: [6|5] x 1 km. [Cold and sharp.|Hard, good.]",
                "Long run: {km} km along {route}. [Spring half plan, week {few}.|Plan week {few}.]",
                "Easy {km} km in the frost. [Careful on the bridges.|Slow on the ice.]",
                "Tempo: [2 x 15|2 x 20] minutes at goal pace[ along {route}|]. [Held it.|The wind won the second block.]",
            ],
            "bergen": [
                "New Year in Bergen. [Fireworks in the rain.|Quiet, then loud at midnight.]",
                "Last days in Bergen. [Ingrid drove me to the ferry.|Goodbyes are getting easier. Not easy.]",
            ],
            "dutch": [
                "B2 writing practice: [a letter to the council|an opinion piece|a complaint]. [Timed, thirty minutes.|Rushed.]",
                "Dutch class: the teacher says my writing is 'bijna goed'. [Fair enough.|I will take it.]",
            ],
            "ingrid_news": [
                "She uses Tidewatch on the fjord now. Bug report included.",
                "She misses the oliebollen.",
            ],
            "jonas_plan": [
                "the spring paddle",
                "a trip to Zeeland in March",
                "the kayak club's winter meeting",
            ],
            "book": ["a Dutch novel", "a book about estimation"],
            "tomorrow": [
                "release runbook review",
                "intervals, early",
                "Dutch: a timed letter",
                "Tidewatch v0.2 release notes",
            ],
            "review_good": [
                "Intervals are back.",
                "The release runbook is written.",
                "Norwegian stations are in.",
            ],
            "review_bad": ["Back from Bergen tired, not rested.", "Too much coffee."],
            "focus": ["the release", "Tidewatch v0.2", "the spring plan"],
            "dutch_next": ["timed writing", "speaking in class"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2027-01-04": [
                (
                    "Evening",
                    "Picked up Gus from the baker downstairs. He is livelier than when I left him.",
                )
            ],
            "2027-01-21": [
                (
                    "Work",
                    "The customs service went live at the first terminal. Quiet dashboards. Good.",
                )
            ],
            "2027-01-24": [
                ("Tidewatch", "Tidewatch v0.2 shipped: current arrows and Norwegian stations.")
            ],
        },
        away=(("2027-01-01", "2027-01-03"),),
        after=(
            (
                "2027-01-24",
                {
                    "review_good": [
                        "The first customs release went out quietly.",
                        "Tidewatch v0.2 shipped.",
                        "Intervals are back.",
                    ],
                },
            ),
        ),
        long_run_km=(10, 14),
    )
)

# -- February 2027 ------------------------------------------------------------------------------------------------
_month(
    Month(
        "2027-02",
        {
            "work": "rolling the customs service out to every terminal",
            "project": "Tidewatch in the kayak club newsletter",
            "running": "long runs in wind and rain",
            "dutch": "speaking practice for B2",
        },
        {
            "weather": _WINTER,
            "page_topic": [
                "the talk",
                "the rollout",
                "storms",
                "Tidewatch users",
                "speaking Dutch",
                "spring",
            ],
            "work": [
                "Customs rollout: terminal [two|three|four] of five. [Quiet.|One surprise, documented.]",
                "A declaration with {count}00 line items [slowed|stalled] the parser. [Streaming now.|Fixed, tested.]",
                "Practised the meetup talk for [Tom|Priya|the team]. [Too long by five minutes.|Cut three slides.]",
                "Wrote the rollout notes for the next terminal. [One page, as always.|Same template.]",
                "{meeting_kind} about the rollout — {meeting_verdict}.",
                "Terminal [three|four] had [its own date format|a firewall rule nobody knew about|old declarations in the queue]. [Found it before go-live.|Fixed in an hour.]",
                "Paired with Sam on the streaming parser. [He drives well now.|He spotted the bug first.]",
            ],
            "code_area": [
                "the streaming parser",
                "the rollout notes",
                "the talk slides",
                "the terminal configs",
            ],
            "net_subject": ["the rollout", "the talk", "the parser", "the week"],
            "project": [
                "Tidewatch: the kayak club newsletter wants a piece about it. [Wrote three paragraphs.|Yes.]",
                "Tidewatch: [180|190|200] stations now. [Too many to check by hand.|A test per station.]",
                "Tidewatch: a user in Bergen found a rounding bug. [Ingrid's friend, it turns out.|Small world.]",
                "Tidewatch: [storm|spring tide] warnings? [Not this year.|On the list, not in the app.]",
                "Tidewatch: {count} emails after the newsletter. [Answered them all.|All kind.]",
            ],
            "run": [
                "Long run in the storm: {km} km along {route}. [Wind from every side.|Ridiculous. Good.]",
                "{km} km easy, rain the whole way. [Soaked, happy.|Wet. Fine.]",
                "Tempo: {few} km at goal pace. [Held it.|Held it, barely.]",
            ],
            "dutch": [
                "Dutch speaking practice with the baker downstairs. [He corrects my articles.|De or het, always.]",
                "B2 class: presenting in Dutch for five minutes. [Nervous, then fine.|Mostly fine.]",
                "Dutch class: [a debate about housing|listening to a radio show|a letter to the council]. [Spoke more than last week.|Hard.]",
                "Dutch: [an episode of a quiz show|the news|a podcast about cycling] without subtitles. [Understood most of it.|Half, honestly.]",
            ],
            "ingrid_news": [
                "She wants to come for King's Day. Of course.",
                "Bergen has had snow for a week.",
            ],
            "jonas_plan": [
                "the first paddle of the year",
                "the March trip to Zeeland",
                "the club's safety day",
            ],
            "book": ["a Dutch novel", "a book about talks"],
            "tomorrow": [
                "rehearse the talk",
                "long run, whatever the weather",
                "rollout notes for terminal four",
                "Dutch: five-minute presentation",
            ],
            "review_good": [
                "Rollout on schedule.",
                "Long runs in any weather.",
                "The talk is written.",
            ],
            "review_bad": ["Slept badly before the talk.", "The storm cancelled a paddle."],
            "focus": ["the talk", "the rollout", "the B2 speaking"],
            "dutch_next": ["speaking", "articles: de or het"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2027-02-18": [
                (
                    "Work",
                    "Gave the meetup talk in Rotterdam: ranges, not numbers. Forty people, good questions, no slides about me.",
                )
            ]
        },
        after=(
            (
                "2027-02-18",
                {
                    "review_good": [
                        "The talk went well.",
                        "Rollout on schedule.",
                        "Long runs in any weather.",
                    ],
                },
            ),
        ),
        long_run_km=(12, 16),
    )
)

# -- March 2027 ---------------------------------------------------------------------------------------------------
_month(
    Month(
        "2027-03",
        {
            "work": "the customs service retro, and a choice about leading",
            "project": "Tidewatch's first spring on the water",
            "running": "18 km long runs",
            "dutch": "B2 practice exams",
        },
        {
            "weather": _EARLY_SPRING,
            "page_topic": [
                "leading again",
                "spring",
                "the first paddle",
                "the exam",
                "the long runs",
            ],
            "work": [
                "Customs service retro. [What worked: small PRs, written plans, again.|Same lessons, fewer surprises.]",
                "Priya asked if I want to lead the next project. [Asked for a week and a written scope.|Not yet decided.]",
                "All terminals on the customs service. [Dashboards flat.|Boring. Good.]",
                "Wrote down what I would want from leading again: [a scope, an end date, and fewer meetings|the same deal as last time].",
                "{meeting_kind} about the next project — {meeting_verdict}.",
                "Handed the parser over to Sam. [He knows it better than I do now.|Good feeling.]",
                "[Sketched|Drafted] the next project's scope on one page. [Three goals, one end date.|Still too long.]",
                "Closed {count} customs tickets. [The backlog is honest again.|Quiet week.]",
            ],
            "code_area": ["the retro notes", "the next project's scope", "the last terminal"],
            "net_subject": ["the retro", "the decision", "the customs service", "the week"],
            "project": [
                "Tidewatch: the first paddlers of the season. [Two bug reports, both small.|Quiet, good.]",
                "Paddled the Oosterschelde with Jonas, first time this year. Checked Tidewatch. Off by {minutes} minutes.",
                "Tidewatch: {count}00 users. [Still small. Still correct.|Small on purpose.]",
                "Tidewatch: [updated|refreshed] the constituents for [Vlissingen|Bergen|Den Helder]. [The error halved.|Tiny change, good change.]",
                "Tidewatch: spring tides this week, [and the app knew|and the arrows were right]. [Good.|Relief.]",
            ],
            "run": [
                "Long run: {km} km along {route}, [the longest this year|steady|in the first sun].",
                "Easy {km} km in the [spring rain|cold sun]. [Good legs.|Light.]",
                "Tempo: 2 x 25 minutes at goal pace. [Held it.|Strong.]",
                "{km} km easy along {route} with the club. [Chatty.|Fast for easy.]",
            ],
            "dutch": [
                "B2 practice exam: [writing|listening|speaking]. [Better than in January.|Timed, and I finished.]",
                "Dutch class: the exam date is set. [Nervous.|Ready, almost.]",
                "Dutch class: [a mock interview|a letter of application|a discussion about work]. [I surprised myself.|Hard, fair.]",
            ],
            "ingrid_news": [
                "She booked the flight for King's Day.",
                "She asked about leading again. I said: in writing.",
            ],
            "jonas_plan": ["the Zeeland trip", "a new paddle for him", "the club's spring meeting"],
            "book": ["a Dutch novel", "a book about leading"],
            "tomorrow": [
                "write the scope for leading",
                "long run, early",
                "practice exam, writing",
            ],
            "review_good": [
                "The retro was honest.",
                "The first paddle of the year.",
                "18 km felt easy.",
            ],
            "review_bad": [
                "I still have not decided about leading.",
                "Too many evenings on Tidewatch.",
            ],
            "focus": ["the decision", "the exam", "the long runs"],
            "dutch_next": ["practice exams", "writing, timed"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2027-03-12": [
                (
                    "Work",
                    "Decided to lead the next project at Kestrel Freight, for one season, with a written scope and an end date.",
                )
            ]
        },
        long_run_km=(14, 18),
    )
)

# -- April 2027 ---------------------------------------------------------------------------------------------------
_SPRING = [
    "Light at half past six",
    "Blossom on the canal trees",
    "April showers, three before lunch",
    "Warm sun, cold wind",
    "A soft grey morning",
    "Tulip fields on the news, rain here",
]
_month(
    Month(
        "2027-04",
        {
            "work": "leading the port-calls project at Kestrel Freight, one season",
            "project": "Tidewatch's tide tables printed for the club",
            "running": "the Rotterdam marathon, as a pacer for Jonas",
            "dutch": "the B2 exam",
        },
        {
            "weather": _SPRING,
            "page_topic": [
                "leading, the second time",
                "the exam",
                "King's Day",
                "the marathon",
                "the printed tables",
            ],
            "work": [
                "Port-calls kickoff. [The scope fits on one page.|Three goals, one end date, written down.]",
                "First week leading again. [Fewer meetings than last time.|I kept Thursday for code.]",
                "{meeting_kind} about the port-calls scope — {meeting_verdict}.",
                "Sam runs the customs service now. [He asked me nothing all week.|Good sign.]",
                "Wrote the port-calls plan with [Priya|Tom|the team]. [Estimates as ranges, again.|Ranges, with the assumptions listed.]",
                "Said no to a fourth goal for the project. [Politely.|In writing.]",
                "Reviewed {count} PRs for the new team. [Small ones, as asked.|Mostly small.]",
            ],
            "code_area": [
                "the port-calls plan",
                "the first prototype",
                "the team's onboarding notes",
            ],
            "net_subject": ["the kickoff", "the first month leading", "the exam", "the week"],
            "project": [
                "Tidewatch: the club wants the tide tables printed for the boathouse. [Made a PDF.|A4, laminated.]",
                "Tidewatch: [210|220|230] stations. [Checked the new ones by hand anyway.|A test each.]",
                "Paddled the Oosterschelde with Jonas at slack water. Checked Tidewatch. Off by {minutes} minutes.",
                "Tidewatch: a pull request from a stranger, [a good one|with tests]. [Merged.|Merged after one question.]",
            ],
            "run": [
                "Last long run before the marathon: {km} km along {route}. [Easy, on purpose.|Slow and steady.]",
                "Recovery {km} km along {route}. [Heavy legs.|Slow, fine.]",
                "{km} km easy with the club. [Spring at last.|Short sleeves.]",
            ],
            "dutch": [
                "B2 exam: [writing|listening|speaking] done. [Better than the practice ones.|Calm, mostly.]",
                "Dutch: the last class before the exam. [The teacher said: ready.|We had cake.]",
                "Dutch: [read a newspaper front to back|watched a film without subtitles]. [Understood almost all of it.|Most of it.]",
            ],
            "ingrid_news": [
                "She landed for King's Day in an orange scarf.",
                "She asked how leading feels. I said: quieter than last time.",
            ],
            "jonas_plan": ["the marathon", "a paddle at slack water", "the club's spring cleaning"],
            "book": ["a Dutch detective novel", "a book about tides"],
            "tomorrow": [
                "port-calls plan, second draft",
                "easy run, short",
                "exam: speaking",
            ],
            "review_good": [
                "The kickoff was calm.",
                "Jonas finished the marathon.",
                "The exam felt fair.",
            ],
            "review_bad": [
                "Too many calendar invites in week one.",
                "Skipped two morning pages.",
            ],
            "focus": ["the project scope", "the exam", "the marathon"],
            "dutch_next": ["the exam result", "reading Dutch news daily"],
            "evening_month": ["{evening_item}"],
        },
        events={
            "2027-04-11": [
                (
                    "Run",
                    "Rotterdam marathon: paced Jonas to 3:59 over the Erasmus bridge and back. He cried at the finish.",
                )
            ],
            "2027-04-27": [
                (
                    "Evening",
                    "King's Day with Ingrid: the flea market on the Markt, orange everything, and tea at home after.",
                )
            ],
        },
        long_run_km=(10, 20),
    )
)

BASE_MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
LATER_MONTHS = [key for key in MONTHS if key not in BASE_MONTHS]


def month_of(iso_day: str) -> Month:
    return MONTHS[iso_day[:7]]


def rules_on(iso_day: str) -> tuple[int, dict[str, list[str]]]:
    """(how many `after` overrides hold on this day, the month's rules with them applied)."""
    month = month_of(iso_day)
    active = [rules for first, rules in month.after if first <= iso_day]
    merged = dict(month.rules)
    for rules in active:
        merged.update(rules)
    return len(active), merged


def is_away(iso_day: str) -> bool:
    return any(first <= iso_day <= last for first, last in month_of(iso_day).away)
