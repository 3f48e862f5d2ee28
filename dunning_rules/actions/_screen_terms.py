"""The words of the draft screen, in English, Spanish, French, German, Portuguese and Italian.

Everything here is written in the screen's folded form (see :mod:`._screen_normalize`): lower
case, no accents, no apostrophes ("d'expiration" is ``d expiration``), one space between words.
:mod:`._screen_request` decides with these lists; nothing here decides anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ASK_VERBS",
    "CALL_BEFORE",
    "CARD_WORD",
    "CHAIN",
    "CHECK",
    "COMMA_BREAK_WORDS",
    "CUSTOMER_VERBS",
    "FINAL_VERBS",
    "FINAL_PARTICLES",
    "HESITATION",
    "MARKERS",
    "MENTIONS",
    "MESSAGE_VERBS",
    "MULTIWORD_VERBS",
    "NEED",
    "NEGATORS",
    "PROTECTIVE",
    "CLAUSE_BREAK",
    "IMPERATIVE_PRONOUNS",
    "POSTPOSED_NEGATORS",
    "STATUS",
    "Mention",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _any(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


# -- what a dunning email must never ask for ------------------------------------------------

_CARD_PREFIX = r"(?:credit|debit|master|visa|bank|kredit|ec|giro|geld|bank|visa|amex|payment)?"
_CARD = (
    rf"(?:\b{_CARD_PREFIX}(?:cards?|karten?)|tarjetas?|cartes?|cartao|cartoes|carta|carte|cb|cc"
    r"|amex|visa|mastercard)"
)
_NUMBER_FIRST = (
    r"(?:numbers?|digits?|figures|numerals|numeros?|digitos|cifras|chiffres|ziffern|zahlen"
    r"|nummer|nummern|cifre|numeri|algarismos)"
)
_NUMBER_AFTER = rf"(?:{_NUMBER_FIRST}|no|num|nr|nro)"
# Words that may stand between "number" and "card": "the long number on the front of your card".
_BETWEEN = (
    r"(?:on|of|from|at|in|the|your|this|that|its|my|our|front|back|long|full|complete|whole"
    r"|entire|embossed|printed|written|raised|shown|engraved|main|16|15|19|sixteen|fifteen"
    r"|credit|debit|bank|de|del|la|las|los|el|su|tu|sus|tus|en|frente|largo|grabados?|relieve"
    r"|que|aparece|aparecen|au|du|des|le|les|votre|vos|ta|tes|sur|recto|face|avant|relief|auf"
    r"|der|die|das|dem|ihrer|ihre|ihres|ihrem|deiner|deine|vorderseite|lange|langen"
    r"|eingepragten?|vollstandigen?|do|da|dos|seu|sua|no|na|comprido|longo|em|relevo|della"
    r"|delle|dei|tua|tuo|sul|sulla|fronte|lungo|rilievo|di|completo|completa|a|o|os|as|il|i"
    r"|gli|lo|l|all|them|kredit|bancaire|bancaria|credito|impresso|impressos|impressa|stampate"
    r"|stampati|stampato|stampata|imprime|imprimes|impreso|impresos|gedruckte|gedruckten"
    r"|aufgedruckte|aufgedruckten|escrito|escritos|scritto|scritte|scritti|ecrit|ecrits"
    r"|inscrit|inscrits|visible|visibles|visibili|sichtbare|sichtbaren|gravado|gravados"
    r"|graves|incisi|geschrieben|gepragten|gepragte)"
)
_BACK = (
    r"(?:back|reverse|rear|signature|reverso|atras|detras|(?:au|du|le) dos|verso|ruckseite"
    r"|retro|dietro|unterschriftsfeld)"
)
_BACK_BETWEEN = (
    r"(?:on|at|from|of|the|your|card|de|del|la|su|tu|el|que|esta|au|du|le|votre|auf|der|die"
    r"|ihrer|no|do|da|seu|sul|sulla|della|tua|next|to|near|in|en|printed|written|strip|panel"
    r"|al|lado|a|o|os|il|dem|im|an|behind|little|small|tarjeta|carte|karte|cartao|carta)"
)
_THREE = r"(?:3|4|three|four|tres|trois|drei|vier|quatro|quattro|tre|cuatro)"

_CARD_NUMBER = _any(
    rf"\b{_NUMBER_FIRST}(?:\s+{_BETWEEN}){{0,8}}\s+{_CARD}\b",
    rf"\b{_CARD}(?:\s+(?:s|full|complete|long|16|15)){{0,2}}\s*{_NUMBER_AFTER}\b",
    rf"\b{_CARD_PREFIX}karten\s*(?:nummer|nr|ziffern)",
    r"\b(?:full|your|card|the|complete)\s+pan\b|primary\s+account\s+number",
    r"\blong\s+(?:card\s+)?number\b|numero\s+(?:largo|comprido|longo|lungo)\b|\blong\s+numero"
    r"|\blangen?\s+(?:karten)?nummer",
    r"\b(?:embossed|raised)\s+(?:numbers?|digits)|(?:numbers?|digits)\s+embossed"
    r"|numeros?\s+(?:grabados?\s+)?en\s+relieve|numeros?\s+en\s+relief"
    r"|eingepragten?\s+(?:zahlen|ziffern|nummer)|numeros?\s+em\s+relevo|numeri\s+in\s+rilievo",
    r"\b(?:16|15|sixteen|dieciseis|seize|sechzehn|dezesseis|sedici)\s+(?:digits|digitos|chiffres"
    r"|ziffern|cifre|cifras|numbers|numeros)",
)
_PHOTO = (
    r"\b(?:photo|photos|picture|pic|image|scan|copy|photocopy|foto|fotografia|imagen|copia|bild"
    r"|kopie|fotokopie|scansione|photocopie|imagem|screenshot)\b(?:\s+(?:"
    + _BETWEEN[3:-1]
    + r"|both|sides?|ambos|lados|and|y|et|und|e|vorder|ruckseite|reverso|retro|verso|ambas"
    r"|caras|faces|seiten|beiden|recto))*\s+" + _CARD + r"\b"
)
_SECURITY_CODE = _any(
    r"\b(?:cvv|cvc|cvn|cav|cvd|cid|csc|cvv2|cvc2|cav2|cvvz)\b",
    r"card\s*verification\s*(?:value|code|number)?",
    r"\bsecurity\s*(?:code|number|digits?|numbers?)",
    r"codigo\s+de\s+(?:seguridad|seguranca)|code\s+de\s+securite|numero\s+de\s+securite"
    r"|codice\s+di\s+sicurezza|sicherheits\s*(?:code|nummer|zahl)|cryptogramme",
    r"\b(?:karten)?pruf\s*(?:ziffer|nummer|code|zahl)",
    rf"\b{_THREE}\s*(?:or\s+{_THREE}\s*)?(?:digit|digits|cifras|digitos|chiffres|ziffern|cifre"
    r"|stellige[nr]?|ziffrige[nr]?|numeros|numbers?|algarismos)\b",
    rf"\b(?:code|codes|codigo|codice|number|numbers|digits?|numeros?|chiffres|ziffern|zahlen"
    rf"|nummer|cifre|cifras|digitos|numeri)\b(?:\s+{_BACK_BETWEEN}){{0,6}}\s+{_BACK}\b",
)
_EXPIRY = _any(
    r"\bexpir(?:y|ation)\b|\bexp\s*date\b|\bvalid\s*(?:thru|through|until|till)\b"
    r"|\bgood\s*(?:thru|through)\b",
    r"\bwhen\s+(?:does\s+)?(?:your|the|it)\s*(?:card\s+)?expires?\b",
    r"\bmonth\s+and\s+year\b|\byear\s+and\s+month\b|\bmm\s*/?\s*(?:yy|aa|jj)(?:yy|aa|jj)?\b",
    r"fecha\s+de\s+(?:vencimiento|caducidad|expiracion|validez)|\bcaducidad\b|\bexpiracion\b",
    r"\b(?:date|fecha|data|datum)\s+(?:a\s+laquelle|en\s+que|que|em\s+que|in\s+cui|an\s+dem)\s+"
    r"(?:\w+\s+){0,3}?(?:expire|expira|vence|caduca|scade|ablauft)\b"
    r"|\bwann\s+lauft\s+(?:ihre|deine|die)\s+karte\s+ab\b",
    r"\bvencimiento\b(?!\s+(?:de|del)\s+(?:la\s+|su\s+)?(?:factura|pago|recibo|cuota|plazo))",
    r"\bmes\s+y\s+ano\b|\bano\s+y\s+mes\b|cuando\s+(?:vence|caduca|expira)\s+(?:su|tu|la)\s+tarjeta",
    r"date\s+d\s*(?:expiration|echeance)|date\s+de\s+(?:fin\s+de\s+)?validite|fin\s+de\s+validite"
    r"|\bexpiration\b|\bvalidite\b|\bmois\s+et\s+(?:l\s+)?annee\b|quand\s+(?:votre|ta)\s+carte\s+expire",
    r"ablaufdatum|verfallsdatum|gultigkeits?\s*datum|\bgultigkeit\b|\bgultig\s+bis\b"
    r"|\bmonat\s+und\s+jahr\b|(?:wann|in\s+dem)\s+(?:ihre|deine|die)\s+karte\s+ablauft",
    r"data\s+de\s+(?:validade|vencimento|expiracao)|\bvalidade\b|\bexpiracao\b"
    r"|\bvencimento\b(?!\s+(?:da|do)\s+(?:sua\s+)?(?:fatura|boleto|pagamento|conta|parcela))"
    r"|\bmes\s+e\s+(?:o\s+)?ano\b|quando\s+vence\s+(?:o\s+)?(?:seu\s+)?cartao",
    r"data\s+di\s+scadenza(?!\s+della\s+fattura)"
    r"|\bscadenza\b(?!\s+(?:della|del)\s+(?:fattura|pagamento|rata))"
    r"|\bmese\s+e\s+(?:l\s+)?anno\b|quando\s+scade\s+la\s+(?:tua\s+)?carta",
)
_PIN = (
    r"\bpins?\b|geheimzahl|code\s+confidentiel|\bnip\b|pin\s*(?:code|number|nummer)"
    r"|code\s+secret|codigo\s+secreto|codice\s+segreto|geheim\s*(?:code|nummer)"
)
_PASSWORD = _any(
    r"\bpass\s*(?:words?|codes?)|passwort|passworter|kennwort|mots?\s+de\s+passe",
    r"contrasenas?|clave\s+(?:de\s+acceso|secreta)|\b(?:su|tu)\s+clave\b|senhas?|palavras?\s*passe",
    r"parola\s+d\s*ordine|credenziali|credentials|login\s+(?:details|password)|zugangsdaten"
    r"|identifiants|codes?\s+d\s+acces",
    r"\b(?:your|online\s+banking|banking|bank|account|apple\s+id|icloud|paypal)\s+"
    r"(?:login|log\s*in|sign\s*in)\b(?!\s+(?:page|to|at|here))|\blog\s*in\s+(?:details|credentials)",
)
_ONE_TIME_CODE = _any(
    r"one\s*time\s*(?:code|password|passcode|pin)|\botp\b|verification\s+code|\bsms\s*code"
    r"|\btext\s+code|(?:6|six|8|eight)\s*digit\s+(?:code|verification)",
    r"code\s+(?:that\s+)?(?:we|weve|we\s+have|we\s+just|i)\s+(?:just\s+)?(?:sent|texted|emailed)"
    r"|code\s+(?:you\s+)?(?:received|got)"
    r"|codigo\s+que\s+(?:le\s+|te\s+|lhe\s+)?(?:enviamos|mandamos|hemos\s+enviado|acabamos)"
    r"|code\s+que\s+nous\s+(?:vous\s+)?avons\s+envoye|codice\s+che\s+(?:ti\s+|le\s+)?"
    r"(?:abbiamo\s+inviato|abbiamo\s+mandato|hai\s+ricevuto)"
    r"|\bcode,?\s+(?:den|das|die)\s+(?:wir|sie)\b(?:\s+\w+){0,5}?\s+(?:gesendet|geschickt|erhalten|bekommen)"
    r"|\b(?:that|this)\s+code\b",
    r"codigo\s+(?:de\s+)?(?:verificacion|verificacao|sms|por\s+sms|de\s+un\s+solo\s+uso|unico)"
    r"|codigo\s+que\s+(?:recibio|recibiste|chegou|recebeu)|\b(?:ese|este|esse|esse)\s+codigo\b",
    r"code\s+(?:a\s+usage\s+unique|sms|par\s+sms|de\s+verification|de\s+confirmation|recu)"
    r"|\b(?:ce|le)\s+code\s+(?:recu|par)",
    r"\bm?tan\b|einmal\s*(?:passwort|code|kennwort)|bestatigungs\s*code|verifizierungs\s*code"
    r"|\bdiesem\s+code\b",
    r"codice\s+(?:otp|sms|di\s+verifica|ricevuto)|\bquel\s+codice\b",
)
_DETAILS = _any(
    r"card\s*(?:details|info|information|data)|credit\s+card\s+(?:information|details|info)"
    r"|bank\s+(?:details|account\s+details)|account\s+number|payment\s+(?:details|information|info)",
    r"coordonnees\s+(?:bancaires|de\s+(?:votre\s+|la\s+)?carte)|donnees\s+(?:de\s+(?:votre\s+|la\s+)?carte|bancaires)"
    r"|informations\s+de\s+(?:votre\s+)?carte",
    r"kartendaten|bankdaten|kontonummer|zahlungsdaten",
    r"datos\s+(?:de\s+(?:la\s+|su\s+|tu\s+)?tarjeta|bancarios)|dados\s+(?:do\s+(?:seu\s+)?cartao|bancarios)"
    r"|dati\s+(?:della\s+(?:tua\s+)?carta|bancari)",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """One kind of secret: what the screen's reason calls it, and how it is judged.

    ``hard`` secrets are rejected wherever a clause names them, unless the clause only says
    they are never asked for, or (``status``) only reports the card's state ("your card's
    expiry date has passed"). A ``needs_card`` mention ("its number") counts only in a
    sentence that names a card. Soft ones ("card details") are rejected only where the draft
    asks the customer to send them.
    """

    label: str
    pattern: re.Pattern[str]
    hard: bool = True
    status: bool = False
    needs_card: bool = False


MENTIONS: tuple[Mention, ...] = (
    Mention(label="a security code", pattern=re.compile(_SECURITY_CODE), status=True),
    Mention(label="a card number", pattern=re.compile(_CARD_NUMBER), status=True),
    Mention(
        label="a card number",
        pattern=re.compile(
            r"\b(?:its|their|sus?|son|sa|seu|sua|ihre|seine|deren|suo)\s+(?:full\s+|complete\s+)?"
            r"(?:number|numero|nummer|digits|digitos|chiffres|ziffern|cifre|numeri)\b"
        ),
        status=True,
        needs_card=True,
    ),
    Mention(label="a picture of the card", pattern=re.compile(_PHOTO)),
    Mention(label="an expiry date", pattern=re.compile(_EXPIRY), status=True),
    Mention(label="a PIN", pattern=re.compile(_PIN)),
    Mention(label="a one-time code", pattern=re.compile(_ONE_TIME_CODE)),
    Mention(label="a password", pattern=re.compile(_PASSWORD)),
    Mention(label="card or bank details", pattern=re.compile(_DETAILS), hard=False),
)

CARD_WORD = re.compile(rf"\b{_CARD}\b")

# A number that is a phone number: "call the number on the back of your card".
CALL_BEFORE = re.compile(
    r"\b(?:call|phone|ring|dial|llame|llamar|llamen|appelez|appeler|appelle|rufen\s+sie|ruf"
    r"|anrufen|ligue|ligar|liguem|chiama|chiamare|chiami|telefonee|telefonez)"
    r"(?:\s+(?:al|au|a|para|o|il|the|die|den|le|el|us|at|on|to|them|ihre|ihrer|your))*\s+$"
)

# -- how a sentence asks, refuses or reports -------------------------------------------------

NEGATORS = _words(
    "never not no dont doesnt didnt wont wouldnt shouldnt cant cannot isnt arent nor neither "
    "nunca jamas nadie ni tampoco ne n jamais pas aucun aucune "
    "nie niemals nicht kein keine keinen keinesfalls nao nem non mai"
)
# Negators that may follow a German imperative: "geben Sie Ihre PIN niemals weiter".
POSTPOSED_NEGATORS = _words("nie niemals nicht keinesfalls niemandem keinem")
IMPERATIVE_PRONOUNS = _words("sie du ihr wir ich er es")

# Verbs of a company asking or keeping ("we never ask for", "nous ne demandons jamais").
ASK_VERBS = _words(
    "ask asks asked asking request requests requested requesting need needs require requires "
    "want collect store save keep see access contact call phone demand "
    "pedir pediremos pedimos pide pedira piden pedirle pedirte solicitar solicitamos "
    "solicitaremos solicita requerimos necesitamos guardamos "
    "demander demandons demanderons demandera demande demandent solliciter exigeons "
    "conservons stockons "
    "fragen fragt frage bitten bittet anfordern fordern verlangen erfragen speichern "
    "pediremos pedimos pede pedira vai pedir solicitamos solicitaremos "
    "chiedere chiediamo chiederemo chiedera chiede richiediamo chiederemmo"
)
# Verbs that hand something over by message: the customer acting.
MESSAGE_VERBS = _words(
    "reply replying replies respond responding send sending email text texting tell give "
    "provide share write forward attach include confirm confirming verify read dictate spell "
    "message dm post let "
    "responda respondan responde respondenos respondanos responder conteste contesten "
    "contestenos envie envien envienos envia envianos enviar enviarnos mande manden mandenos "
    "manda mandanos mandar escriba escriban escribanos escribe escribenos escribir indique "
    "indiquen indiquenos indica indicanos diga digan diganos dinos dime decirnos facilite "
    "facilitenos proporcione proporcionenos comparta compartanos comparte compartenos "
    "confirme confirma comunique comuniquenos adjunte reenvie "
    "repondez repondre reponds envoyez envoyer envoie ecrivez ecrire ecris indiquez indiquer "
    "donnez donner donne communiquez communiquer transmettez transmettre fournissez fournir "
    "partagez partager confirmez confirmer precisez dites renvoyez joignez "
    "antworten antworte senden sende schicken schicke schreiben schreibe nennen nenne teilen "
    "teile mitteilen geben gib ubermitteln bestatigen bestatige angeben zurucksenden "
    "zuruckschicken verraten sagen "
    "respondam envie enviem mandem escreva escrevam escrever informe informem informar "
    "digam dizer compartilhe compartilhar partilhe confirmar forneca fornecer encaminhe "
    "rispondi risponda rispondere invia inviaci inviare invii mandaci mandare scrivi "
    "scrivici scrivere scriva comunica comunicaci comunicare indicaci indicare dicci dica "
    "dimmi condividi condividere conferma confermare fornisci fornire inoltra"
)
# Verbs of typing into a form: fine for "your new card", not for a security code.
_FORM_VERBS = _words(
    "type retype enter input fill submit paste key "
    "introduzca ingrese teclee complete rellene escriba "
    "tapez taper retapez saisissez saisir remplissez completez entrez "
    "tippen tippe eintippen eingeben ausfullen fullen eintragen "
    "digite digitar preencha preencher insira inserir "
    "digita inserisci inserire compila compilare"
)
CUSTOMER_VERBS = MESSAGE_VERBS | _FORM_VERBS
# Phrases that act as one customer verb, folded into one token before the checks.
MULTIWORD_VERBS = (
    (
        re.compile(r"\blet\s+us\s+know\b|\bfaites\s+nous\s+savoir\b|\bfais\s+nous\s+savoir\b"),
        "tell",
    ),
    (
        re.compile(r"\b(?:nos\s+puede|podria|puede)\s+decir(?:nos)?\b|\bvuelva\s+a\s+escribir\b"),
        "diga",
    ),
    (re.compile(r"\bfill\s+(?:in|out)\b|\bhit\s+reply\b|\bget\s+back\s+to\s+us\b"), "reply"),
    (re.compile(r"\bre\s+(?:type|enter)\b"), "retype"),
)
# Verbs at the end of a German clause: "wir werden Sie niemals nach Ihrer PIN fragen".
FINAL_VERBS = _words(
    "fragen bitten anfordern verlangen erfragen senden schicken teilen weitergeben geben "
    "mitteilen nennen ubermitteln angeben preisgeben weiter"
)
FINAL_PARTICLES = _words("weiter an mit ein zu")

# Words that may stand between a negator and its verb: "will never ask you to send".
CHAIN = _words(
    "i we you they he she it us them me anyone will would shall should can could may might "
    "must do does did ever again also even to or and please "
    "que de d di zu o ou oder e y et und a "
    "le la les lo los las lui leur te ti ci vi nos vous nous se me mi "
    "sie ihnen dich uns euch wir ich du ihr ever "
    "is are be been being going gonna vai vamos va vont werden wird wurde wurden "
    "je j tu il ils elle on vamos iremos vou jamais nunca mai nie"
)
# A verb after one of these is not a request: an infinitive ("to send") or a noun ("by email").
MARKERS = _words(
    "to zu a an the by via per your our any such this that par por un une um uma una ein "
    "eine einer questa questo este esta esse essa cet cette ce diese dieser diesem over through "
    "in on with from"
)

# A clause that warns about the secrets instead of asking for them.
PROTECTIVE = re.compile(
    r"\b(?:keep|keeping|guard|protect)\b(?:\s+\w+){0,7}?\s+(?:secret|private|safe|confidential"
    r"|to\s+yourself)\b|\bto\s+yourself\b|\b(?:with|to)\s+(?:anyone|anybody|no\s+one|nobody)\b"
    r"|\bnobody\b|\bno\s+one\b|\bscam\w*|\bphishing\b|\bfraud\w*|\bestafa\b|\bfraude\b"
    r"|\barnaque\b|\bhameconnage\b|\bbetrug\w*|\bgolpe\b|\btruffa\b|\ba\s+nadie\b|\bcon\s+nadie\b"
    r"|\ben\s+secreto\b|\bpersonne\b|\bniemand(?:em)?\b|\bninguem\b|\bnessuno\b|\bem\s+segredo\b"
    r"|\bsegreto\b|\bgeheim\b|\bnot\s+from\s+us\b"
    r"|\b(?:if|should|when)\s+(?:someone|anyone|anybody|somebody)\b|\bsi\s+alguien\b"
    r"|\bsi\s+quelqu\s+un\b|\b(?:wenn|falls)\s+jemand\b|\bse\s+alguem\b|\bse\s+qualcuno\b"
)
# A clause that reports the state of a card instead of asking for its data.
STATUS = re.compile(
    r"\b(?:expired|has\s+passed|passed|is\s+past|ending\s+in|ends\s+in|ending\s+with|declined"
    r"|rejected|refused|failed|invalid|incorrect|wrong|did\s+not\s+match|didnt\s+match"
    r"|not\s+accepted|caduco|vencio|ha\s+pasado|ya\s+paso|terminada\s+en|rechazada|rechazado"
    r"|incorrecto|invalido|no\s+coincide|expire|a\s+expire|depassee|se\s+terminant\s+par"
    r"|refusee?|invalide|abgelaufen|uberschritten|mit\s+der\s+endung|abgelehnt|falsch|ungultig"
    r"|expirou|ja\s+passou|venceu|terminado\s+em|final|recusad[oa]|incorret[oa]|scaduta"
    r"|e\s+passata|che\s+termina\s+con|rifiutata|errat[oa]|non\s+valid[oa]"
    r"|expires\s+soon|will\s+expire|about\s+to\s+expire|arrive\s+a\s+expiration"
    r"|arrivera\s+a\s+expiration|expire\s+bientot|va\s+expirer|expirera|vence\s+pronto"
    r"|vencera|caducara|lauft\s+bald\s+ab|vence\s+em\s+breve|vai\s+vencer|scade\s+a\s+breve"
    r"|scadra)\b"
)
# Verbs of checking something oneself: "please check your card's expiry date".
CHECK = re.compile(
    r"\b(?:check|double\s+check|make\s+sure|ensure|prufen|uberprufen|kontrollieren|verifiez"
    r"|verifier|controlez|controler|revise|revisa|compruebe|comprueba|comprobar|confira|conferir"
    r"|controlla|controllare|controllate|controlli)\b"
)
# Words that ask without a verb of sending: "we need your CVV", "what is your PIN".
NEED = re.compile(
    r"\b(?<!if )(?:need|needs|needed|require|required|requires|necesitamos|necesita|necesario"
    r"|il\s+nous\s+faut|besoin|benotigen|brauchen|erforderlich|precisamos|precisa|necessario"
    r"|ci\s+serv[eo]n?o?|bisogno|what\s+is|whats|which\s+is|cual\s+es|quel\s+est|quelle\s+est"
    r"|wie\s+lautet|qual\s+e|qual\s+es)\b"
)

# "Don't hesitate to send": a request, not a negation.
HESITATION = re.compile(
    r"\b(?:please\s+)?(?:dont|do\s+not|never)\s+(?:hesitate|forget|wait|delay)\b"
    r"|\bno\s+(?:dude|dudes|duden|olvide|olvides|olviden|espere)\b"
    r"|\bn\s+(?:hesitez|hesite|oubliez|oublie|attendez)\s+pas\b"
    r"|\b(?:zogern|vergessen|warten)\s+sie\s+nicht\b|\bnicht\s+(?:zogern|vergessen)\b"
    r"|\bnao\s+(?:hesite|hesitem|esqueca|esquecam|se\s+esqueca|deixe\s+de)\b"
    r"|\bnon\s+(?:esitare|esiti|esitate|dimenticare|dimentichi|aspettare)\b"
)

_BREAK_WORDS = (
    r"so|but|however|instead|therefore|thus|then|now|just|simply|only|rather|although|though"
    r"|yet|still|anyway|otherwise|if|unless|when|whenever|once|because|since|whereas|while"
    r"|please|kindly|meanwhile|except|also"
    r"|asi\s+que|pero|sin\s+embargo|entonces|solo|solamente|simplemente|por\s+favor|si|cuando"
    r"|aunque|eso\s+si|en\s+cambio|luego|ahora|basta|porque|mientras"
    r"|donc|mais|toutefois|cependant|pourtant|alors|seulement|juste|quand|lorsque|merci\s+de"
    r"|merci\s+d|svp|s\s+il\s+vous\s+plait|en\s+revanche|plutot|ensuite|puis|car|parce\s+que"
    r"|aber|jedoch|dennoch|deshalb|daher|deswegen|dann|nun|jetzt|einfach|nur|bitte|wenn"
    r"|falls|sondern|stattdessen|trotzdem|sobald|weil|damit"
    r"|entao|mas|porem|contudo|no\s+entanto|apenas|em\s+vez\s+disso|depois|agora|caso"
    r"|quindi|ma|tuttavia|comunque|allora|soltanto|per\s+favore|invece|poi|ora|adesso|perche"
)
# Words after which a comma or an "and" starts a new clause.
COMMA_BREAK_WORDS = (
    _words(
        "we i you they it he she nous je vous elle ils wir ich sie du er nosotros yo "
        "usted ustedes noi io lei voi nos eu voce voces ele ela"
    )
    | NEGATORS
    | CUSTOMER_VERBS
)
CLAUSE_BREAK = re.compile(
    r"(?<!\d)[;:]|[;:](?!\d)|[\n\u2013\u2014]"
    rf"|\b(?={_any(_BREAK_WORDS)}\b)"
    r"|,(?=\s*(?P<next>[a-z]+))"
    r"|\b(?=(?:and|y|et|und|e)\s+(?P<after>[a-z]+))"
)
